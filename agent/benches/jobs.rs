//! The cost of the scheduled-job scan (issue 16): a Linux host with 200 cron entries and a
//! Windows host with 500 Task Scheduler tasks (UTF-16 with BOM), each beside the same host
//! without jobs, and the command scanner on one script. Numbers: docs/BENCHMARKS.md.
//!
//! `cargo bench -p azver-agent --bench jobs`.

use std::hint::black_box;
use std::path::Path;

use azver_agent::detect::jobs::command::{self, Dialect};
use azver_agent::host::HostView;
use azver_core::OsFamily;
use criterion::{Criterion, criterion_group, criterion_main};

fn write(root: &Path, path: &str, bytes: &[u8]) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create folders");
    std::fs::write(path, bytes).expect("write a fixture file");
}

/// 200 cron entries: 20 files in `/etc/cron.d` of 10 lines each, a third running a script
/// (10 distinct scripts, each read once), one in ten signing in with a password.
fn linux_host(root: &Path) {
    for file in 0..20 {
        let mut table = String::from("# generated for the benchmark\nSHELL=/bin/bash\nMAILTO=ops@contoso.com\n");
        for entry in 0..10 {
            let n = file * 10 + entry;
            let command = match n % 10 {
                0 => format!("az login -u ops{n}@contoso.com -p \"$AZ_PASS\" && az group list -o none"),
                3 | 6 | 9 => format!("/opt/jobs/job{}.sh --run {n} >> /var/log/job{n}.log 2>&1", n % 10),
                _ => format!("cd /srv/app{n} && ./cleanup --older-than 7d > /dev/null 2>&1"),
            };
            table.push_str(&format!("{} {} * * * svc{n} {command}\n", n % 60, n % 24));
        }
        write(root, &format!("etc/cron.d/jobs{file:02}"), table.as_bytes());
    }
    for script in 0..10 {
        let text = format!(
            "#!/bin/bash\nset -euo pipefail\n# job {script}\nAZ_USER=ops@contoso.com\necho starting\n\
             az login --username \"$AZ_USER\" --password \"$AZ_PASS\" --output none\naz storage blob list -c c{script} -o table\n"
        );
        write(root, &format!("opt/jobs/job{script}.sh"), text.as_bytes());
    }
}

/// 500 tasks in 10 folders, UTF-16 LE with BOM as Task Scheduler writes them; one in five runs
/// a PowerShell script (25 distinct), the rest a program.
fn windows_host(root: &Path) {
    for n in 0..500 {
        let (command, arguments) = if n % 5 == 0 {
            (
                "C:\\Program Files\\PowerShell\\7\\pwsh.exe".to_owned(),
                format!("-NoProfile -File C:\\ops\\task{}.ps1", n % 25),
            )
        } else {
            (format!("C:\\Tools\\tool{n}.exe"), format!("--mode nightly --item {n}"))
        };
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<Task version=\"1.4\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\r\n  <RegistrationInfo><URI>\\Bench\\F{f}\\Task{n}</URI></RegistrationInfo>\r\n  <Triggers><CalendarTrigger><StartBoundary>2025-01-01T02:00:00</StartBoundary><ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay></CalendarTrigger></Triggers>\r\n  <Principals><Principal id=\"Author\"><UserId>CONTOSO\\svc{n}</UserId><LogonType>Password</LogonType></Principal></Principals>\r\n  <Settings><Enabled>true</Enabled><ExecutionTimeLimit>PT72H</ExecutionTimeLimit></Settings>\r\n  <Actions Context=\"Author\"><Exec><Command>{command}</Command><Arguments>{arguments}</Arguments></Exec></Actions>\r\n</Task>\r\n",
            f = n % 10
        );
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(xml.encode_utf16().flat_map(u16::to_le_bytes));
        write(root, &format!("Windows/System32/Tasks/Bench/F{}/Task{n}", n % 10), &bytes);
    }
    for script in 0..25 {
        let text = format!(
            "param([string]$Name = 'task{script}')\r\n$cred = Import-Clixml C:\\ops\\cred{script}.xml\r\nConnect-AzAccount -Credential $cred | Out-Null\r\nGet-AzResourceGroup | Select-Object -First 1\r\n"
        );
        write(root, &format!("ops/task{script}.ps1"), text.as_bytes());
    }
}

fn job_scans(c: &mut Criterion) {
    let mut group = c.benchmark_group("scan jobs");
    let empty = tempfile::tempdir().expect("a temp dir");
    let linux = tempfile::tempdir().expect("a temp dir");
    linux_host(linux.path());
    let windows = tempfile::tempdir().expect("a temp dir");
    windows_host(windows.path());
    for (name, root, os) in [
        ("linux host without jobs", empty.path(), OsFamily::Linux),
        ("linux host, 200 cron entries", linux.path(), OsFamily::Linux),
        ("windows host without tasks", empty.path(), OsFamily::Windows),
        ("windows host, 500 scheduled tasks", windows.path(), OsFamily::Windows),
    ] {
        let host = HostView::rooted(root, os).expect("a root");
        let found = azver_agent::scan::scan(&host).job_sign_ins.len();
        assert!(name.contains("without") || found > 0, "{name}: no sign-in found");
        group.bench_function(name, |b| b.iter(|| azver_agent::scan::scan(black_box(&host))));
    }
    group.finish();
    let script = "#!/bin/bash\nset -e\n# nightly\nAZ_PASS='x'\necho \"az login -u a -p b\"\naz login \\\n  --username ops@contoso.com \\\n  --password \"$AZ_PASS\"\naz storage blob upload-batch -d backups -s /srv\n"
        .repeat(10);
    c.bench_function("command::scan 90-line shell script", |b| {
        b.iter(|| command::scan(black_box(&script), Dialect::Shell, false))
    });
}

criterion_group!(benches, job_scans);
criterion_main!(benches);
