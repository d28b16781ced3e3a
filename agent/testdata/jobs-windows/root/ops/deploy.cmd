@echo off
REM az login -u deploy@contoso.com -p AZVER-SENTINEL-jobs-5d2e-never-leak (old)
:: az login -u deploy@contoso.com -p AZVER-SENTINEL-jobs-5d2e-never-leak
set AZ_PASS=AZVER-SENTINEL-jobs-5d2e-never-leak
echo az login -u deploy@contoso.com -p %AZ_PASS%
call az login ^
  -u deploy@contoso.com ^
  -p %AZ_PASS% >nul
call az webapp deploy -g web -n contoso-web --src-path C:\ops\app.zip
