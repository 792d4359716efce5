"""Authenticators: directory (Active Directory / LDAP) and GitHub sign-in."""
