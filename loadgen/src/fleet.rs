//! The simulated fleet: hosts with varied, realistic inventories and how they change.
//!
//! Each host's profile (OS, role, products, identities, labels) is derived from its index, so a
//! second run against the same database reports the same hosts, unchanged. Sequence numbers
//! start from the run's start time in tenths of a second, so a later run's reports are newer
//! than an earlier run's, as an agent's would be, and near them: the collector takes a
//! sequence more than 100,000 from a host's last for a counter reset (logged per report), so
//! runs up to 2.7 hours apart continue each host's sequence. A host may send up to ten reports
//! a second before a later run's numbers fall behind an earlier run's.

use std::collections::HashMap;
use std::sync::Mutex;

use azver_proto::v1::{HostFacts, Identity, Installation, InventoryReport, ScanError};

/// What the next report of a host is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A new scan; usually identical to the last one.
    Unchanged,
    /// A new scan after the Azure CLI was upgraded (a new snapshot at the collector).
    Upgrade,
    /// The last report again, as an agent resends it when the answer was lost.
    Retry,
    /// The machine was re-imaged: a new host id, sequence 1 (a new host at the collector).
    NewHost,
}

/// The share of each kind of report (the rest are [`Kind::Unchanged`]).
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Share of upgrades, 0 to 1.
    pub upgrade: f64,
    /// Share of retried duplicates.
    pub retry: f64,
    /// Share of new hosts.
    pub new_host: f64,
}

impl Mix {
    /// Picks a kind with these shares from a uniform draw in `0..1`.
    pub fn pick(&self, draw: f64) -> Kind {
        if draw < self.upgrade {
            Kind::Upgrade
        } else if draw < self.upgrade + self.retry {
            Kind::Retry
        } else if draw < self.upgrade + self.retry + self.new_host {
            Kind::NewHost
        } else {
            Kind::Unchanged
        }
    }
}

/// What a slot of the fleet has sent so far.
#[derive(Debug, Default)]
struct Slot {
    /// Times the machine was re-imaged (each is a new host id).
    generation: u32,
    /// Reports sent under the current host id; 0 before the first.
    sent: u64,
    /// Azure CLI upgrades so far.
    upgrades: u32,
    /// The agent's scan time of the last report.
    scanned_at: i64,
}

/// N simulated hosts.
#[derive(Debug)]
pub struct Fleet {
    slots: Vec<Mutex<Slot>>,
    /// Sequence numbers of this run start above this.
    sequence_base: u64,
    /// Distinguishes re-imaged hosts of different runs.
    run: u64,
}

const CLI_VERSIONS: &[&str] = &["2.61.0", "2.67.0", "2.70.0", "2.72.0", "2.74.0", "2.75.0", "2.76.0", "2.77.0"];
const AZ_VERSIONS: &[&str] = &["11.6.0", "12.5.0", "13.4.0", "14.1.0", "14.2.0"];
const ACCOUNTS_VERSIONS: &[&str] = &["2.19.0", "3.0.5", "4.1.0", "5.1.0", "5.2.0"];
const MODULES: &[&str] = &["Az.Storage", "Az.KeyVault", "Az.Compute", "Az.Resources", "Az.Network", "Az.Websites"];
const EXTENSIONS: &[&str] = &["azure-devops", "aks-preview", "containerapp", "ssh"];
const TEAMS: &[&str] = &["payments", "platform", "data", "identity", "mobile", "web"];

impl Fleet {
    /// A fleet of `hosts` hosts; `start_millis` is the run's start (Unix time in milliseconds).
    pub fn new(hosts: usize, start_millis: u64) -> Self {
        Self {
            slots: (0..hosts).map(|_| Mutex::new(Slot::default())).collect(),
            sequence_base: start_millis / 100,
            run: start_millis,
        }
    }

    /// Number of simulated hosts.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the fleet has no hosts.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The host id that slot `index` reports under now, if it has reported under it (`None` past
    /// the end of the fleet).
    pub fn reported_host_id(&self, index: usize) -> Option<String> {
        let slot = self.slots.get(index)?.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (slot.sent > 0).then(|| self.host_id(index, &slot))
    }

    fn host_id(&self, index: usize, slot: &Slot) -> String {
        if slot.generation == 0 {
            format!("loadgen-{index:07}")
        } else {
            format!("loadgen-{index:07}-r{}-{}", slot.generation, self.run)
        }
    }

    /// The next report of host `index`, of kind `kind` (a retry before any report is a first
    /// report), scanned at `now` (Unix seconds). Returns the kind actually sent.
    pub fn next_report(&self, index: usize, kind: Kind, now: i64) -> (Kind, InventoryReport) {
        let mut slot = self.slots[index].lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let kind = match kind {
            Kind::Retry if slot.sent == 0 => Kind::Unchanged,
            Kind::NewHost => {
                slot.generation += 1;
                slot.sent = 0;
                slot.upgrades = 0;
                Kind::NewHost
            }
            other => other,
        };
        if kind != Kind::Retry {
            slot.sent += 1;
            slot.scanned_at = now;
        }
        if kind == Kind::Upgrade {
            slot.upgrades += 1;
        }
        let report = self.build(index, &slot);
        (kind, report)
    }

    fn build(&self, index: usize, slot: &Slot) -> InventoryReport {
        // The profile is a function of the index (and re-images of it), never of the run.
        let mut rng = fastrand::Rng::with_seed(index as u64 * 7919 + u64::from(slot.generation));
        let host_id = self.host_id(index, slot);
        let sequence = self.sequence_base + slot.sent;
        let role = match rng.u8(0..10) {
            0..=5 => azver_proto::v1::Role::Developer,
            6..=8 => azver_proto::v1::Role::BuildRunner,
            _ => azver_proto::v1::Role::Server,
        };
        let os = rng.u8(0..20);
        let (family, os_name, os_version, kernel, home) = match os {
            0..=9 => (azver_proto::v1::OsFamily::Linux, "Ubuntu", "24.04", "6.8.0-49-generic", "/home"),
            10..=16 => {
                (azver_proto::v1::OsFamily::Windows, "Windows 11 Enterprise", "10.0.22631", "22631", "C:\\Users")
            }
            _ => (azver_proto::v1::OsFamily::Macos, "macOS", "15.1", "24.1.0", "/Users"),
        };
        let windows = family == azver_proto::v1::OsFamily::Windows;
        let user = format!("dev{}", index % 997);
        let sep = if windows { "\\" } else { "/" };
        let mut installations = Vec::with_capacity(6);
        let cli = CLI_VERSIONS[(rng.usize(..CLI_VERSIONS.len()) + slot.upgrades as usize) % CLI_VERSIONS.len()];
        let (cli_path, cli_source, cli_evidence) = if windows {
            ("C:\\Program Files\\Microsoft SDKs\\Azure\\CLI2", azver_proto::v1::InstallSource::WindowsMsi, "pyc")
        } else if family == azver_proto::v1::OsFamily::Macos {
            (
                "/opt/homebrew/Cellar/azure-cli/libexec/lib/python3.12/site-packages",
                azver_proto::v1::InstallSource::Homebrew,
                "dist-info",
            )
        } else {
            ("/opt/az/lib/python3.12/site-packages", azver_proto::v1::InstallSource::MicrosoftDeb, "dist-info")
        };
        installations.push(install("azure-cli", cli, cli_source, true, "", cli_path, true, cli_evidence));
        let extension = EXTENSIONS[rng.usize(..EXTENSIONS.len())];
        installations.push(install(
            &format!("azure-cli-extension/{extension}"),
            &format!("1.{}.0", rng.u8(0..9)),
            azver_proto::v1::InstallSource::Other,
            false,
            &user,
            &format!("{home}{sep}{user}{sep}.azure{sep}cliextensions{sep}{extension}"),
            false,
            "dist-info",
        ));
        let modules_root = if windows {
            format!("{home}\\{user}\\Documents\\PowerShell\\Modules")
        } else {
            format!("{home}/{user}/.local/share/powershell/Modules")
        };
        let az = AZ_VERSIONS[rng.usize(..AZ_VERSIONS.len())];
        let accounts = ACCOUNTS_VERSIONS[rng.usize(..ACCOUNTS_VERSIONS.len())];
        let gallery = azver_proto::v1::InstallSource::PowershellGallery;
        for (product, version) in [("Az", az), ("Az.Accounts", accounts)] {
            let path = format!("{modules_root}{sep}{product}{sep}{version}");
            installations.push(install(product, version, gallery, false, &user, &path, true, "psd1"));
        }
        let module = MODULES[rng.usize(..MODULES.len())];
        let version = format!("{}.{}.0", rng.u8(4..9), rng.u8(0..5));
        let path = format!("{modules_root}{sep}{module}{sep}{version}");
        installations.push(install(module, &version, gallery, false, &user, &path, true, "psd1"));

        let tenant = format!("{:08x}-4c1e-4b8e-9f4a-{:012x}", rng.u32(..), rng.u64(..) & 0xffff_ffff_ffff);
        let mut identities = vec![Identity {
            tool: "azure-cli".into(),
            account_type: if role == azver_proto::v1::Role::BuildRunner {
                azver_proto::v1::AccountType::ServicePrincipal
            } else {
                azver_proto::v1::AccountType::User
            } as i32,
            tenant_id: tenant.clone(),
            cloud: "AzureCloud".into(),
            local_user: user.clone(),
            is_default: true,
            account_name: String::new(),
            path: format!("{home}{sep}{user}{sep}.azure{sep}azureProfile.json"),
        }];
        if rng.bool() {
            identities.push(Identity {
                tool: "Az".into(),
                account_type: azver_proto::v1::AccountType::User as i32,
                tenant_id: tenant,
                cloud: "AzureCloud".into(),
                local_user: user.clone(),
                is_default: true,
                account_name: String::new(),
                path: format!("{home}{sep}{user}{sep}.Azure{sep}AzureRmContext.json"),
            });
        }
        let errors = if rng.u8(0..20) == 0 {
            vec![ScanError {
                path: format!("{home}{sep}former-employee"),
                kind: "permission-denied".into(),
                message: "permission denied (os error 13)".into(),
            }]
        } else {
            Vec::new()
        };
        let mut labels = HashMap::new();
        labels.insert("team".to_owned(), TEAMS[rng.usize(..TEAMS.len())].to_owned());
        labels.insert("site".to_owned(), format!("site-{}", rng.u8(1..5)));
        InventoryReport {
            host: Some(HostFacts {
                host_id: host_id.clone(),
                hostname: format!("{}-{index:06}", if windows { "WS" } else { "host" }),
                os_family: family as i32,
                os_name: os_name.into(),
                os_version: os_version.into(),
                kernel_version: kernel.into(),
                architecture: if rng.u8(0..4) == 0 { "aarch64" } else { "x86_64" }.into(),
                agent_version: "0.1.0".into(),
                role: role as i32,
                labels,
                ci_system: if role == azver_proto::v1::Role::BuildRunner {
                    "github-actions".into()
                } else {
                    String::new()
                },
                spool_dropped: 0,
                ci_service: String::new(),
                ci_service_path: String::new(),
            }),
            scanned_at: Some(prost_types::Timestamp { seconds: slot.scanned_at, nanos: 0 }),
            report_id: format!("{host_id}-{sequence}"),
            sequence,
            installations,
            identities,
            errors,
            job_sign_ins: Vec::new(),
            ..InventoryReport::default()
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn install(
    product: &str,
    version: &str,
    source: azver_proto::v1::InstallSource,
    system: bool,
    user: &str,
    path: &str,
    on_path: bool,
    evidence: &str,
) -> Installation {
    let scope = if system { azver_proto::v1::Scope::System } else { azver_proto::v1::Scope::User };
    Installation {
        product: product.into(),
        version: version.into(),
        source: source as i32,
        scope: scope as i32,
        user: if system { String::new() } else { user.into() },
        path: path.into(),
        on_path: on_path && product == "azure-cli",
        default_for_powershell: product.starts_with("Az"),
        evidence: evidence.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn reports_are_realistic_and_change_only_when_they_should() {
        let fleet = Fleet::new(10, 1_700_000_000_000);
        let (kind, first) = fleet.next_report(3, Kind::Retry, 100);
        assert_eq!(kind, Kind::Unchanged, "nothing to retry before the first report");
        let size = first.encoded_len();
        assert!((600..3000).contains(&size), "a report is about a real one's size, not {size} bytes");
        assert_eq!(first.installations.len(), 5);
        let (_, retry) = fleet.next_report(3, Kind::Retry, 200);
        assert_eq!(retry, first, "a retry is the same report, id and sequence included");
        let (_, next) = fleet.next_report(3, Kind::Unchanged, 300);
        assert_eq!((next.sequence, &next.installations), (first.sequence + 1, &first.installations));
        let (_, upgraded) = fleet.next_report(3, Kind::Upgrade, 400);
        assert_ne!(upgraded.installations[0].version, first.installations[0].version);
        let (_, reimaged) = fleet.next_report(3, Kind::NewHost, 500);
        assert_ne!(reimaged.host.as_ref().map(|h| &h.host_id), first.host.as_ref().map(|h| &h.host_id));
    }
}
