#!/bin/sh
az storage blob upload --auth-mode login --account-name contosoreports -c daily -f /srv/reports/today.csv
