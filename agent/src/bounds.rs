//! What one report may carry. A local user controls much of what a scan finds (module folders
//! in their own home, sign-in profiles, file names): 1,001 broken `Az.*` folders once made the
//! report exceed the collector's limits, the collector refused it and the host vanished from the
//! fleet view. [`fit`] keeps every report well inside the collector's default limits
//! (`collector/src/config.rs` `Limits`, checked by `collector/src/grpc.rs` `validate`: 2,000
//! installations, 200 identities, 1,000 errors, 1,000 job sign-ins, strings of 4,096 bytes,
//! 1 MiB per message), keeping first what decides the verdict and counting what it leaves out in
//! [`Omitted`], which travels with the report.
//!
//! What is kept first:
//! - installations: for each baseline product (`azure-cli`, `Az`, `Az.Accounts` and any other
//!   product of the built-in baseline), the lowest and the highest version, versions that do not
//!   parse (each is a finding), the copy on `PATH` and the module PowerShell imports; then the
//!   other copies of baseline products, lowest versions first; then everything else (other
//!   `Az.*` modules, CLI extensions), lowest versions first;
//! - identities: user sign-ins (what MFA enforcement breaks), then unknown types, then the rest;
//! - job sign-ins: high severity first (a user's password, which MFA enforcement breaks), then
//!   the rest (plaintext secrets); within a kind, the first finding of each file before a second
//!   one of any file, so a thousand lines of one crontab never hide the one script elsewhere;
//! - errors: the rarest kinds first, so a thousand malformed manifests never hide the one
//!   permission error.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use azver_core::{AccountType, Baseline, Inventory, JobSignInKind, Omitted, Version};

/// Bounds on one report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Most installations.
    pub installations: usize,
    /// Most identities.
    pub identities: usize,
    /// Most scan errors.
    pub errors: usize,
    /// Most job sign-ins.
    pub job_sign_ins: usize,
    /// Longest string of an installation, identity or error (cut at a character boundary).
    pub string_bytes: usize,
    /// Largest report, estimated from its strings: entries are dropped (lowest priority first)
    /// until it fits.
    pub report_bytes: usize,
}

impl Caps {
    /// Every report: half the collector's default limits, or less.
    pub const REPORT: Caps = Caps {
        installations: 1000,
        identities: 100,
        errors: 200,
        job_sign_ins: 500,
        string_bytes: 1024,
        report_bytes: 512 * 1024,
    };

    /// The reduced form of a report the collector refused anyway (a collector configured with
    /// lower limits): the verdict's essentials and little else.
    pub const REDUCED: Caps = Caps {
        installations: 100,
        identities: 20,
        errors: 10,
        job_sign_ins: 50,
        string_bytes: 256,
        report_bytes: 64 * 1024,
    };
}

/// Longest host name the collector accepts (DNS allows 253).
const MAX_HOSTNAME_BYTES: usize = 253;

/// Overhead of one entry on the wire besides its strings (tags, lengths, enums, flags).
const ENTRY_OVERHEAD: usize = 32;

/// Cuts `inventory` down to `caps`, adding what it leaves out to `inventory.host.omitted`.
pub fn fit(inventory: &mut Inventory, caps: &Caps) {
    truncate(&mut inventory.host.hostname, MAX_HOSTNAME_BYTES);
    for install in &mut inventory.installations {
        for s in [&mut install.product, &mut install.version, &mut install.path] {
            truncate(s, caps.string_bytes);
        }
        if let Some(user) = &mut install.user {
            truncate(user, caps.string_bytes);
        }
    }
    for identity in &mut inventory.identities {
        for s in [&mut identity.tool, &mut identity.tenant_id, &mut identity.cloud, &mut identity.local_user] {
            truncate(s, caps.string_bytes);
        }
        truncate(&mut identity.path, caps.string_bytes);
        if let Some(name) = &mut identity.account_name {
            truncate(name, caps.string_bytes);
        }
    }
    for error in &mut inventory.errors {
        truncate(&mut error.path, caps.string_bytes);
        truncate(&mut error.message, caps.string_bytes);
    }
    for job in &mut inventory.job_sign_ins {
        for s in [&mut job.product, &mut job.path, &mut job.job, &mut job.command] {
            truncate(s, caps.string_bytes);
        }
        if let Some(run_as) = &mut job.run_as {
            truncate(run_as, caps.string_bytes);
        }
    }

    let installs = installation_priority(inventory);
    let identities = identity_priority(inventory);
    let errors = error_priority(inventory);
    let jobs = job_priority(inventory);
    let mut keep = Keep {
        installations: installs.len().min(caps.installations),
        identities: identities.len().min(caps.identities),
        errors: errors.len().min(caps.errors),
        job_sign_ins: jobs.len().min(caps.job_sign_ins),
    };
    let size = |keep: &Keep| -> usize {
        let i: usize = installs.iter().take(keep.installations).map(|&k| install_bytes(inventory, k)).sum();
        let d: usize = identities.iter().take(keep.identities).map(|&k| identity_bytes(inventory, k)).sum();
        let e: usize = errors.iter().take(keep.errors).map(|&k| error_bytes(inventory, k)).sum();
        let j: usize = jobs.iter().take(keep.job_sign_ins).map(|&k| job_bytes(inventory, k)).sum();
        i + d + e + j
    };
    // Errors go first, then installations beyond the essentials, then job sign-ins and
    // identities beyond the first few (the highest severity, kept first).
    while size(&keep) > caps.report_bytes {
        if keep.errors > 0 {
            keep.errors /= 2;
        } else if keep.installations > 8 {
            keep.installations /= 2;
        } else if keep.job_sign_ins > 8 {
            keep.job_sign_ins /= 2;
        } else if keep.identities > 8 {
            keep.identities /= 2;
        } else {
            break;
        }
    }
    let omitted = Omitted {
        installations: (installs.len() - keep.installations) as u64,
        identities: (identities.len() - keep.identities) as u64,
        errors: (errors.len() - keep.errors) as u64,
        job_sign_ins: (jobs.len() - keep.job_sign_ins) as u64,
        reduced: false,
    };
    retain_first(&mut inventory.installations, &installs, keep.installations);
    retain_first(&mut inventory.identities, &identities, keep.identities);
    retain_first(&mut inventory.errors, &errors, keep.errors);
    retain_first(&mut inventory.job_sign_ins, &jobs, keep.job_sign_ins);
    let total = &mut inventory.host.omitted;
    total.installations = total.installations.saturating_add(omitted.installations);
    total.identities = total.identities.saturating_add(omitted.identities);
    total.errors = total.errors.saturating_add(omitted.errors);
    total.job_sign_ins = total.job_sign_ins.saturating_add(omitted.job_sign_ins);
    if !omitted.is_empty() {
        tracing::warn!(
            installations = omitted.installations,
            identities = omitted.identities,
            errors = omitted.errors,
            job_sign_ins = omitted.job_sign_ins,
            "report too large for the collector: left out the entries that matter least, and counted them"
        );
    }
}

/// How many entries of each list [`fit`] keeps (the first of each priority order).
#[derive(Debug, Clone, Copy)]
struct Keep {
    installations: usize,
    identities: usize,
    errors: usize,
    job_sign_ins: usize,
}

/// Cuts `s` to at most `max` bytes, at a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// Keeps the entries at the first `count` of `indices` (in their original order).
fn retain_first<T>(items: &mut Vec<T>, indices: &[usize], count: usize) {
    let keep: BTreeSet<usize> = indices.iter().take(count).copied().collect();
    let mut index = 0;
    items.retain(|_| {
        index += 1;
        keep.contains(&(index - 1))
    });
}

/// Lower-case names of the products the baseline judges.
fn baseline_products() -> BTreeSet<String> {
    let mut products: BTreeSet<String> = [azver_core::AZURE_CLI, azver_core::AZ, azver_core::AZ_ACCOUNTS]
        .iter()
        .map(|p| p.to_ascii_lowercase())
        .collect();
    products.extend(Baseline::default().products().map(|(p, _)| p.to_ascii_lowercase()));
    products
}

/// Unparseable versions first (each is a finding), then ascending.
fn version_order(a: Option<&Version>, b: Option<&Version>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => a.cmp(b),
    }
}

/// Indices of the installations, most important first (see the module documentation).
fn installation_priority(inventory: &Inventory) -> Vec<usize> {
    let installs = &inventory.installations;
    let products = baseline_products();
    let parsed: Vec<Option<Version>> = installs.iter().map(|i| Version::parse(&i.version).ok()).collect();
    let key: Vec<String> = installs.iter().map(|i| i.product.to_ascii_lowercase()).collect();
    // The lowest and highest parsed version of each baseline product.
    let mut extremes: HashMap<&str, (usize, usize)> = HashMap::new();
    for (i, version) in parsed.iter().enumerate() {
        let Some(version) = version else { continue };
        if !products.contains(&key[i]) {
            continue;
        }
        let entry = extremes.entry(key[i].as_str()).or_insert((i, i));
        if parsed[entry.0].as_ref().is_some_and(|low| version < low) {
            entry.0 = i;
        }
        if parsed[entry.1].as_ref().is_some_and(|high| version > high) {
            entry.1 = i;
        }
    }
    let essential: BTreeSet<usize> = extremes.values().flat_map(|&(low, high)| [low, high]).collect();
    let tier = |i: usize| -> u8 {
        let install = &installs[i];
        if !products.contains(&key[i]) {
            2
        } else if essential.contains(&i) || parsed[i].is_none() || install.on_path || install.default_for_powershell {
            0
        } else {
            1
        }
    };
    let mut order: Vec<usize> = (0..installs.len()).collect();
    order.sort_by(|&a, &b| tier(a).cmp(&tier(b)).then_with(|| version_order(parsed[a].as_ref(), parsed[b].as_ref())));
    order
}

/// Indices of the identities: user sign-ins, then unknown types, then the rest.
fn identity_priority(inventory: &Inventory) -> Vec<usize> {
    let rank = |t: AccountType| match t {
        AccountType::User => 0,
        AccountType::Unknown => 1,
        _ => 2,
    };
    let mut order: Vec<usize> = (0..inventory.identities.len()).collect();
    order.sort_by_key(|&i| rank(inventory.identities[i].account_type));
    order
}

/// Indices of the job sign-ins: a user's password (high severity) first, then unknown kinds,
/// then plaintext secrets; within a kind, the first finding of each file before the second of
/// any, in scan order.
fn job_priority(inventory: &Inventory) -> Vec<usize> {
    let rank = |k: JobSignInKind| match k {
        JobSignInKind::UserPassword => 0u8,
        JobSignInKind::Other => 1,
        JobSignInKind::PlaintextSecret => 2,
    };
    let mut seen: HashMap<(JobSignInKind, &str), usize> = HashMap::new();
    let mut keys: Vec<(u8, usize, usize)> = Vec::with_capacity(inventory.job_sign_ins.len());
    for (i, job) in inventory.job_sign_ins.iter().enumerate() {
        let repeat = seen.entry((job.kind, job.path.as_str())).or_insert(0);
        keys.push((rank(job.kind), *repeat, i));
        *repeat += 1;
    }
    keys.sort_unstable();
    keys.into_iter().map(|(_, _, i)| i).collect()
}

/// Indices of the errors: rarest kinds first, in scan order within a kind.
fn error_priority(inventory: &Inventory) -> Vec<usize> {
    let mut counts = HashMap::new();
    for error in &inventory.errors {
        *counts.entry(error.kind).or_insert(0usize) += 1;
    }
    let mut order: Vec<usize> = (0..inventory.errors.len()).collect();
    order.sort_by_key(|&i| counts.get(&inventory.errors[i].kind).copied().unwrap_or(0));
    order
}

fn install_bytes(inventory: &Inventory, i: usize) -> usize {
    let install = &inventory.installations[i];
    ENTRY_OVERHEAD
        + install.product.len()
        + install.version.len()
        + install.path.len()
        + install.user.as_ref().map_or(0, String::len)
}

fn identity_bytes(inventory: &Inventory, i: usize) -> usize {
    let identity = &inventory.identities[i];
    ENTRY_OVERHEAD
        + identity.tool.len()
        + identity.tenant_id.len()
        + identity.cloud.len()
        + identity.local_user.len()
        + identity.path.len()
        + identity.account_name.as_ref().map_or(0, String::len)
}

fn error_bytes(inventory: &Inventory, i: usize) -> usize {
    let error = &inventory.errors[i];
    ENTRY_OVERHEAD + error.path.len() + error.message.len()
}

fn job_bytes(inventory: &Inventory, i: usize) -> usize {
    let job = &inventory.job_sign_ins[i];
    ENTRY_OVERHEAD
        + job.product.len()
        + job.path.len()
        + job.job.len()
        + job.command.len()
        + job.run_as.as_ref().map_or(0, String::len)
}

#[cfg(test)]
mod tests {
    use azver_core::{Evidence, Identity, InstallSource, Installation, JobSignIn, ScanError, ScanErrorKind, Scope};

    use super::*;

    fn install(product: &str, version: &str) -> Installation {
        Installation {
            product: product.into(),
            version: version.into(),
            source: InstallSource::PowershellGallery,
            scope: Scope::User,
            user: Some("mallory".into()),
            path: format!("/home/mallory/.local/share/powershell/Modules/{product}/{version}"),
            on_path: false,
            default_for_powershell: false,
            evidence: Evidence::Psd1,
        }
    }

    fn error(kind: ScanErrorKind, n: usize) -> ScanError {
        ScanError { path: format!("/home/mallory/m/Az.Junk{n}"), kind, message: "broken".into() }
    }

    fn identity(account_type: AccountType, n: usize) -> Identity {
        Identity {
            tool: "azure-cli".into(),
            account_type,
            tenant_id: format!("tenant-{n}"),
            cloud: "AzureCloud".into(),
            local_user: "mallory".into(),
            is_default: false,
            account_name: None,
            path: "/home/mallory/.azure/azureProfile.json".into(),
        }
    }

    fn job(kind: JobSignInKind, path: &str, line: u32) -> JobSignIn {
        JobSignIn {
            product: "azure-cli".into(),
            path: path.into(),
            line: Some(line),
            job: format!("cron:{path}"),
            run_as: Some("mallory".into()),
            command: "az login -u ops@contoso.example -p ***".into(),
            kind,
        }
    }

    fn caps(installations: usize, identities: usize, errors: usize) -> Caps {
        Caps { installations, identities, errors, job_sign_ins: 1000, string_bytes: 64, report_bytes: usize::MAX }
    }

    #[test]
    fn what_decides_the_verdict_is_kept_and_the_rest_counted() {
        let mut inventory = Inventory::default();
        for n in 0..50 {
            inventory.installations.push(install(&format!("Az.Junk{n}"), "1.0.0"));
        }
        inventory.installations.push(install("Az.Accounts", "5.3.0"));
        inventory.installations.push(install("Az.Accounts", "2.1.0"));
        inventory.installations.push(install("Az.Accounts", "4.0.0"));
        inventory.installations.push(install("azure-cli", "not-a-version"));
        inventory.installations.push(install("AZ", "14.3.0"));
        for n in 0..30 {
            inventory.identities.push(identity(AccountType::ServicePrincipal, n));
        }
        inventory.identities.push(identity(AccountType::User, 99));
        for n in 0..40 {
            inventory.errors.push(error(ScanErrorKind::MalformedManifest, n));
        }
        inventory.errors.push(error(ScanErrorKind::PermissionDenied, 1000));
        fit(&mut inventory, &caps(4, 2, 3));

        let kept: Vec<(&str, &str)> =
            inventory.installations.iter().map(|i| (i.product.as_str(), i.version.as_str())).collect();
        // The lowest and highest Az.Accounts, the unparseable CLI and Az; 4.0.0 and the junk go.
        assert_eq!(
            kept,
            [("Az.Accounts", "5.3.0"), ("Az.Accounts", "2.1.0"), ("azure-cli", "not-a-version"), ("AZ", "14.3.0")]
        );
        assert!(inventory.identities.iter().any(|i| i.account_type == AccountType::User), "the user sign-in is kept");
        assert_eq!(inventory.identities.len(), 2);
        assert!(inventory.errors.iter().any(|e| e.kind == ScanErrorKind::PermissionDenied));
        assert_eq!(inventory.errors.len(), 3);
        assert_eq!(
            inventory.host.omitted,
            Omitted { installations: 51, identities: 29, errors: 38, job_sign_ins: 0, reduced: false }
        );
        // Fitting again adds nothing that is not left out again.
        fit(&mut inventory, &caps(4, 2, 3));
        assert_eq!(inventory.host.omitted.installations, 51);
    }

    #[test]
    fn long_strings_are_cut_at_a_character_boundary_and_bytes_are_bounded() {
        let mut inventory = Inventory::default();
        inventory.host.hostname = "h".repeat(10_000);
        for n in 0..2000 {
            let mut broken = error(ScanErrorKind::MalformedManifest, n);
            broken.message = "é".repeat(5000);
            inventory.errors.push(broken);
            inventory.installations.push(install(&format!("Az.{}", "ü".repeat(3000)), "1.0.0"));
        }
        let before = inventory.clone();
        fit(&mut inventory, &Caps::REPORT);
        assert_eq!(inventory.host.hostname.len(), MAX_HOSTNAME_BYTES);
        assert!(inventory.errors.iter().all(|e| e.message.len() <= 1024 && e.message.chars().all(|c| c == 'é')));
        let wire = azver_proto::convert::report_to_wire(&inventory, "id", 1, 0);
        let bytes = prost::Message::encoded_len(&wire);
        assert!(bytes < 600 * 1024, "{bytes} bytes");
        assert_eq!(
            inventory.host.omitted.installations + inventory.installations.len() as u64,
            before.installations.len() as u64
        );
        assert_eq!(inventory.host.omitted.errors + inventory.errors.len() as u64, before.errors.len() as u64);
        assert!(!inventory.installations.is_empty());
    }

    #[test]
    fn job_sign_ins_keep_high_severity_first_and_one_of_each_file_before_repeats() {
        let mut inventory = Inventory::default();
        // A thousand plaintext secrets in one crontab, then more user-password lines in it, then
        // one user-password script elsewhere and one plaintext secret in a third file.
        for line in 1..=1000 {
            inventory.job_sign_ins.push(job(JobSignInKind::PlaintextSecret, "/etc/cron.d/noise", line));
        }
        for line in 1001..=1010 {
            inventory.job_sign_ins.push(job(JobSignInKind::UserPassword, "/etc/cron.d/noise", line));
        }
        inventory.job_sign_ins.push(job(JobSignInKind::UserPassword, "/opt/jobs/sync.sh", 7));
        inventory.job_sign_ins.push(job(JobSignInKind::PlaintextSecret, "/opt/jobs/deploy.sh", 3));
        fit(&mut inventory, &Caps { job_sign_ins: 5, ..caps(10, 10, 10) });

        let kept: Vec<(JobSignInKind, &str, Option<u32>)> =
            inventory.job_sign_ins.iter().map(|j| (j.kind, j.path.as_str(), j.line)).collect();
        // Only user-password sign-ins, in their original order: the script's one line is kept
        // although the noise file has more of them before it.
        assert_eq!(
            kept,
            [
                (JobSignInKind::UserPassword, "/etc/cron.d/noise", Some(1001)),
                (JobSignInKind::UserPassword, "/etc/cron.d/noise", Some(1002)),
                (JobSignInKind::UserPassword, "/etc/cron.d/noise", Some(1003)),
                (JobSignInKind::UserPassword, "/etc/cron.d/noise", Some(1004)),
                (JobSignInKind::UserPassword, "/opt/jobs/sync.sh", Some(7)),
            ]
        );
        assert_eq!(inventory.host.omitted.job_sign_ins, 1007);

        // With room for the high-severity ones, each file's first plaintext secret comes next.
        let mut inventory = Inventory::default();
        for line in 1..=1000 {
            inventory.job_sign_ins.push(job(JobSignInKind::PlaintextSecret, "/etc/cron.d/noise", line));
        }
        inventory.job_sign_ins.push(job(JobSignInKind::PlaintextSecret, "/opt/jobs/deploy.sh", 3));
        inventory.job_sign_ins.push(job(JobSignInKind::UserPassword, "/opt/jobs/sync.sh", 7));
        fit(&mut inventory, &Caps { job_sign_ins: 3, ..caps(10, 10, 10) });
        let kept: Vec<(&str, Option<u32>)> = inventory.job_sign_ins.iter().map(|j| (j.path.as_str(), j.line)).collect();
        assert_eq!(
            kept,
            [("/etc/cron.d/noise", Some(1)), ("/opt/jobs/deploy.sh", Some(3)), ("/opt/jobs/sync.sh", Some(7))]
        );
        assert_eq!(inventory.host.omitted.job_sign_ins, 999);
    }

    #[test]
    fn job_sign_ins_fit_the_collector_default_limits() {
        let mut inventory = Inventory::default();
        for line in 0..3000 {
            let mut long = job(JobSignInKind::UserPassword, &format!("/home/mallory/{}.sh", "ß".repeat(4000)), line);
            long.command = format!("az login -u {} -p ***", "é".repeat(5000));
            long.run_as = Some("ü".repeat(5000));
            inventory.job_sign_ins.push(long);
        }
        fit(&mut inventory, &Caps::REPORT);
        assert!(
            (8..=Caps::REPORT.job_sign_ins).contains(&inventory.job_sign_ins.len()),
            "{}",
            inventory.job_sign_ins.len()
        );
        assert_eq!(inventory.host.omitted.job_sign_ins + inventory.job_sign_ins.len() as u64, 3000);
        for job in &inventory.job_sign_ins {
            for s in [&job.path, &job.command, &job.job, job.run_as.as_ref().unwrap()] {
                assert!(s.len() <= Caps::REPORT.string_bytes, "{} bytes", s.len());
            }
        }
        let wire = azver_proto::convert::report_to_wire(&inventory, "id", 1, 0);
        assert!(prost::Message::encoded_len(&wire) < 600 * 1024);
        assert_eq!(wire.job_sign_ins_omitted, inventory.host.omitted.job_sign_ins);
    }

    #[test]
    fn a_small_report_is_left_alone() {
        let mut inventory = Inventory::default();
        inventory.installations.push(install("Az.Accounts", "5.2.0"));
        inventory.errors.push(error(ScanErrorKind::Io, 1));
        inventory.job_sign_ins.push(job(JobSignInKind::PlaintextSecret, "/etc/cron.d/a", 1));
        inventory.job_sign_ins.push(job(JobSignInKind::UserPassword, "/etc/cron.d/a", 2));
        let before = inventory.clone();
        fit(&mut inventory, &Caps::REPORT);
        assert_eq!(inventory, before);
    }
}
