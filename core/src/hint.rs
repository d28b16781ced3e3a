//! Upgrade hints: the one command that fits how an installation got onto the host.

use crate::inventory::{Evidence, InstallSource, Installation, Scope};

/// The command (or short instruction) that upgrades `install` to at least `required`.
/// Never empty: unknown sources get the product's generic advice.
pub fn upgrade_hint(install: &Installation, required: &str) -> String {
    let product = install.product.as_str();
    if product == crate::AZURE_CLI {
        return cli_hint(install, required);
    }
    if product == crate::AZ || product.starts_with("Az.") {
        return module_hint(install, required);
    }
    format!("upgrade {product} to {required} or later")
}

/// How automation should sign in instead of with a user account, for `tool` (`azure-cli`, `Az`).
pub fn identity_hint(tool: &str) -> String {
    if tool == crate::AZURE_CLI {
        "sign this automation in as a service principal (az login --service-principal), a managed identity \
         (az login --identity) or with workload identity federation, not as a user"
            .into()
    } else {
        "sign this automation in with Connect-AzAccount -ServicePrincipal, -Identity (managed identity) or \
         -FederatedToken (workload identity federation), not as a user"
            .into()
    }
}

/// How a scheduled job should sign in instead of with a user's password or a written-down secret.
pub fn job_hint(product: &str) -> String {
    let how = if product == crate::AZURE_CLI {
        "az login --identity (managed identity), az login --service-principal with --certificate, or \
         --federated-token (workload identity federation)"
    } else if product == crate::AZURE_IDENTITY {
        "ManagedIdentityCredential, CertificateCredential or WorkloadIdentityCredential (DefaultAzureCredential \
         tries them) instead of UsernamePasswordCredential"
    } else {
        "Connect-AzAccount -Identity (managed identity), -ServicePrincipal with -CertificateThumbprint, or \
         -FederatedToken (workload identity federation)"
    };
    format!(
        "move this job to a managed identity, a service principal with a certificate, or workload identity federation: {how}"
    )
}

/// What to do about an installation found whose version cannot be read: run its own `az version`.
pub fn unknown_version_hint(install: &Installation, required: &str) -> String {
    let run = if install.evidence == Evidence::Launcher {
        format!("run `{} version` there", install.path)
    } else {
        format!("run `az version` there (with the az of the environment at {})", install.path)
    };
    format!("{run} to read the version; if it is below {required} or fails, reinstall azure-cli {required} or later")
}

/// How to move off a retired module (AzureRM): to Az.
pub fn retired_module_hint(install: &Installation) -> String {
    let scope = if install.scope == Scope::User { "CurrentUser" } else { "AllUsers" };
    format!(
        "migrate to Az: AzureRM was retired in 2024 and cannot answer MFA claims challenges; Install-PSResource -Name Az \
         -Scope {scope}, then Uninstall-AzureRm, and update scripts (Enable-AzureRmAlias eases the move; \
         https://learn.microsoft.com/powershell/azure/migrate-from-azurerm-to-az)"
    )
}

fn cli_hint(install: &Installation, required: &str) -> String {
    let as_user = match (&install.user, install.scope) {
        (Some(user), Scope::User) => format!(" (as {user})"),
        _ => String::new(),
    };
    match install.source {
        InstallSource::MicrosoftDeb => "sudo apt-get update && sudo apt-get install --only-upgrade -y azure-cli".into(),
        InstallSource::MicrosoftRpm => "sudo dnf upgrade -y azure-cli (yum on older releases)".into(),
        InstallSource::DistroPackage => format!(
            "the distribution's azure-cli package is older than {required}: sudo apt-get remove -y azure-cli, then install \
             Microsoft's package (https://learn.microsoft.com/cli/azure/install-azure-cli-linux)"
        ),
        InstallSource::Pip => match python_prefix(&install.path) {
            Some(prefix) => {
                let python = if install.path.contains('\\') {
                    format!("{prefix}\\Scripts\\python.exe")
                } else {
                    format!("{prefix}/bin/python")
                };
                format!("{python} -m pip install --upgrade azure-cli{as_user}")
            }
            None => format!("python -m pip install --upgrade azure-cli (in the environment at {}){as_user}", install.path),
        },
        InstallSource::PipUser => format!("python3 -m pip install --user --upgrade azure-cli{as_user}"),
        InstallSource::Pipx => format!("pipx upgrade azure-cli{as_user}"),
        InstallSource::Homebrew => "brew update && brew upgrade azure-cli".into(),
        InstallSource::Conda => match python_prefix(&install.path) {
            Some(prefix) => format!("conda update -p {prefix} -c conda-forge azure-cli{as_user}"),
            None => format!("conda update -c conda-forge azure-cli (in the environment at {}){as_user}", install.path),
        },
        InstallSource::UvTool => format!("uv tool upgrade azure-cli{as_user}"),
        InstallSource::Nix => format!(
            "update the Nix profile or configuration that provides azure-cli to a nixpkgs with {required} or later \
             (nix profile upgrade, home-manager switch or nixos-rebuild switch){as_user}"
        ),
        InstallSource::WindowsMsi => {
            "winget upgrade --exact --id Microsoft.AzureCLI (or install the latest MSI from https://aka.ms/installazurecliwindowsx64)"
                .into()
        }
        InstallSource::Scoop => match install.scope {
            Scope::System => "scoop update --global azure-cli (from an elevated prompt)".into(),
            Scope::User => format!("scoop update azure-cli{as_user}"),
        },
        InstallSource::WindowsZip => format!(
            "replace {} with the latest ZIP from https://aka.ms/installazurecliwindowszipx64",
            install.path
        ),
        _ => format!("az upgrade --yes (or reinstall azure-cli {required} or later the way it was installed){as_user}"),
    }
}

fn module_hint(install: &Installation, required: &str) -> String {
    let name = install.product.as_str();
    match install.source {
        InstallSource::HostedRunnerImage => format!(
            "{name} comes with the CI runner image: move to a newer image, or install it in the job with \
             Install-PSResource -Name {name} -Version '[{required},)' -Scope CurrentUser -TrustRepository"
        ),
        _ => {
            let scope = if install.scope == Scope::User { "CurrentUser" } else { "AllUsers" };
            let as_user = match (&install.user, install.scope) {
                (Some(user), Scope::User) => format!(", as {user}"),
                _ => String::new(),
            };
            format!(
                "Update-PSResource -Name {name} -Scope {scope}{as_user} (PowerShellGet 2: Update-Module -Name {name} \
                 -Scope {scope})"
            )
        }
    }
}

/// `<prefix>` of a `<prefix>/lib/python3.X/site-packages` (or Windows `<prefix>\Lib\site-packages`).
fn python_prefix(site_packages: &str) -> Option<&str> {
    let sep = if site_packages.contains('\\') { '\\' } else { '/' };
    let trimmed = site_packages.trim_end_matches(sep);
    let (rest, last) = trimmed.rsplit_once(sep)?;
    if !last.eq_ignore_ascii_case("site-packages") {
        return None;
    }
    let (rest, lib_or_py) = rest.rsplit_once(sep)?;
    if lib_or_py.eq_ignore_ascii_case("lib") {
        return Some(rest);
    }
    let (prefix, lib) = rest.rsplit_once(sep)?;
    (lib == "lib" && lib_or_py.starts_with("python")).then_some(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(product: &str, source: InstallSource, scope: Scope, path: &str) -> String {
        let install = Installation {
            product: product.into(),
            version: "1.0".into(),
            source,
            scope,
            user: (scope == Scope::User).then(|| "alice".into()),
            path: path.into(),
            on_path: false,
            default_for_powershell: false,
            evidence: Evidence::DistInfo,
        };
        upgrade_hint(&install, "2.76.0")
    }

    #[test]
    fn each_source_gets_its_own_command() {
        use InstallSource::*;
        let cli = |source, scope, path| hint("azure-cli", source, scope, path);
        assert!(
            cli(MicrosoftDeb, Scope::System, "/opt/az")
                .starts_with("sudo apt-get update && sudo apt-get install --only-upgrade")
        );
        assert!(cli(MicrosoftRpm, Scope::System, "/usr/lib64/az").starts_with("sudo dnf upgrade -y azure-cli"));
        assert!(
            cli(DistroPackage, Scope::System, "/usr/lib/python3/dist-packages").contains("apt-get remove -y azure-cli")
        );
        assert_eq!(
            cli(Pip, Scope::System, "/opt/venv/lib/python3.11/site-packages"),
            "/opt/venv/bin/python -m pip install --upgrade azure-cli"
        );
        assert_eq!(
            cli(Pip, Scope::System, r"C:\tools\venv\Lib\site-packages"),
            r"C:\tools\venv\Scripts\python.exe -m pip install --upgrade azure-cli"
        );
        assert_eq!(
            cli(PipUser, Scope::User, "/home/alice/.local/lib/python3.11/site-packages"),
            "python3 -m pip install --user --upgrade azure-cli (as alice)"
        );
        assert_eq!(cli(Pipx, Scope::User, "/x"), "pipx upgrade azure-cli (as alice)");
        assert_eq!(cli(Homebrew, Scope::System, "/x"), "brew update && brew upgrade azure-cli");
        assert!(cli(WindowsMsi, Scope::System, "/x").starts_with("winget upgrade --exact --id Microsoft.AzureCLI"));
        assert!(cli(WindowsZip, Scope::System, r"C:\az").starts_with(r"replace C:\az with the latest ZIP"));
        assert_eq!(
            cli(Scoop, Scope::User, r"C:\Users\alice\scoop\apps\azure-cli\2.60.0"),
            "scoop update azure-cli (as alice)"
        );
        assert_eq!(
            cli(Scoop, Scope::System, r"C:\ProgramData\scoop\apps\azure-cli\2.60.0"),
            "scoop update --global azure-cli (from an elevated prompt)"
        );
        assert!(cli(Other, Scope::System, "/x").starts_with("az upgrade"));
        assert_eq!(
            hint("Az.Accounts", PowershellGallery, Scope::User, "/x"),
            "Update-PSResource -Name Az.Accounts -Scope CurrentUser, as alice (PowerShellGet 2: Update-Module -Name Az.Accounts -Scope CurrentUser)"
        );
        assert!(
            hint("Az", PowershellGallery, Scope::System, "/x")
                .starts_with("Update-PSResource -Name Az -Scope AllUsers")
        );
        assert!(hint("Az", HostedRunnerImage, Scope::System, "/usr/share/az_12.1.0").contains("newer image"));
        assert_eq!(hint("something", Other, Scope::System, "/x"), "upgrade something to 2.76.0 or later");
    }
}
