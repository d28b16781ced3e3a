#!/usr/bin/env python3
"""Copies new reports to blob storage."""
import subprocess

USER = "sync@contoso.com"
PASSWORD = "AZVER-SENTINEL-jobs-5d2e-never-leak"

# subprocess.run(["az", "login", "-u", USER, "-p", PASSWORD]) was the old way
print("az login -u sync -p hidden")
subprocess.run(["az", "login", "-u", USER, "-p", PASSWORD, "--output", "none"], check=True)
subprocess.run(["az", "storage", "blob", "sync", "-c", "reports", "-s", "/srv/reports"], check=True)
