@echo off
az login --identity >nul && az account show
