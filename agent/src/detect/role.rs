//! The host's role from what is on disk: the files that common CI agents leave when installed
//! (GitHub Actions runner, Azure Pipelines agent, GitLab Runner, Jenkins agent, TeamCity agent,
//! Buildkite agent). Any of them makes the host a `build-runner`.
//!
//! Markers are paths relative to the system root or to a user home; `*` matches any folder.
//!
//! What runs counts too: a service of a CI agent family (a systemd unit, a launchd job, a
//! Windows service) makes the host a build runner wherever the agent's folder lives; the jobs
//! detector records them as [`RunnerService`]s and [`runner_service_ci`] names their family.

use azver_core::OsFamily;

use crate::host::{Home, HostPath, HostView};

/// (CI system, marker relative to the system root).
const LINUX_MAC_SYSTEM: &[(&str, &str)] = &[
    ("github-actions", "actions-runner/.runner"),
    ("github-actions", "opt/actions-runner/.runner"),
    ("azure-pipelines", "azagent/.agent"),
    ("azure-pipelines", "opt/azagent/.agent"),
    ("azure-pipelines", "agent/.agent"),
    ("gitlab-runner", "etc/gitlab-runner/config.toml"),
    ("gitlab-runner", "usr/bin/gitlab-runner"),
    ("gitlab-runner", "usr/local/bin/gitlab-runner"),
    ("gitlab-runner", "opt/homebrew/bin/gitlab-runner"),
    ("jenkins", "usr/share/jenkins/agent.jar"),
    ("jenkins", "var/lib/jenkins/config.xml"),
    ("teamcity", "opt/buildagent/conf/buildAgent.properties"),
    ("teamcity", "opt/TeamCity/buildAgent/conf/buildAgent.properties"),
    ("buildkite", "etc/buildkite-agent/buildkite-agent.cfg"),
    ("buildkite", "usr/local/etc/buildkite-agent/buildkite-agent.cfg"),
    ("buildkite", "opt/homebrew/etc/buildkite-agent/buildkite-agent.cfg"),
];

/// (CI system, marker relative to `C:\`).
const WINDOWS_SYSTEM: &[(&str, &str)] = &[
    ("github-actions", "actions-runner/.runner"),
    ("azure-pipelines", "agent/.agent"),
    ("azure-pipelines", "azagent/.agent"),
    ("gitlab-runner", "GitLab-Runner/config.toml"),
    ("jenkins", "Jenkins/agent.jar"),
    ("jenkins", "Jenkins/remoting.jar"),
    ("teamcity", "BuildAgent/conf/buildAgent.properties"),
    ("buildkite", "buildkite-agent/buildkite-agent.cfg"),
];

/// (CI system, marker relative to a user home): self-hosted agents usually live in the service
/// account's home; hosted images keep theirs in `~/runners/<version>` and `~/agents/<version>`.
const IN_HOMES: &[(&str, &str)] = &[
    ("github-actions", "actions-runner/.runner"),
    ("github-actions", "runners/*/bin/Runner.Listener"),
    ("github-actions", "runners/*/bin/Runner.Listener.exe"),
    ("azure-pipelines", "myagent/.agent"),
    ("azure-pipelines", "azagent/.agent"),
    ("azure-pipelines", "agents/*/.agent"),
    ("gitlab-runner", ".gitlab-runner/config.toml"),
    ("jenkins", "agent.jar"),
    ("jenkins", "remoting.jar"),
    ("jenkins", "agent/remoting"),
    ("teamcity", "buildAgent/conf/buildAgent.properties"),
    ("buildkite", ".buildkite-agent/buildkite-agent.cfg"),
];

/// The CI system whose agent is installed on the host, if any.
pub fn detect_ci_system(host: &HostView, homes: &[Home]) -> Option<&'static str> {
    let root = host.system_root();
    let system = if host.os() == OsFamily::Windows { WINDOWS_SYSTEM } else { LINUX_MAC_SYSTEM };
    system
        .iter()
        .find(|(_, marker)| exists(host, &root, marker))
        .or_else(|| IN_HOMES.iter().find(|(_, marker)| homes.iter().any(|h| exists(host, &h.path, marker))))
        .map(|(ci, _)| *ci)
}

/// True when `pattern` (components separated by `/`, `*` for any folder) exists below `base`.
fn exists(host: &HostView, base: &HostPath, pattern: &str) -> bool {
    match pattern.split_once('/') {
        None if pattern == "*" => false,
        None => host.kind(&base.join(pattern)).is_ok(),
        Some(("*", rest)) => {
            host.subdirs(base, |_| true, &mut Vec::new()).is_ok_and(|dirs| dirs.iter().any(|d| exists(host, d, rest)))
        }
        Some((first, rest)) => exists(host, &base.join(first), rest),
    }
}

/// A CI agent's service found among the host's service definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerService {
    /// The CI system (`github-actions`, `azure-pipelines`, ...).
    pub ci: &'static str,
    /// `<manager>:<name>`: `systemd:actions.runner.contoso.build01.service`,
    /// `launchd:actions.runner.contoso.mac01`, `service:vstsagent.contoso.Default.BUILD01`.
    pub service: String,
    /// The file (unit, property list) or registry key that defines it.
    pub path: String,
}

/// The CI system whose agent a service (systemd unit, launchd label, Windows service name)
/// belongs to, by the names the agents' own installers give them.
pub fn runner_service_ci(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let name = lower.trim_end_matches(".service").trim_end_matches(".plist");
    let name = name.split_once('@').map_or(name, |(template, _)| template);
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| name.starts_with(p));
    let is = |names: &[&str]| names.contains(&name);
    if starts(&["actions.runner."]) {
        Some("github-actions")
    } else if starts(&["vsts.agent.", "vstsagent.", "azpipelines.agent."]) {
        Some("azure-pipelines")
    } else if is(&["gitlab-runner", "gitlab_runner", "com.gitlab.gitlab-runner", "homebrew.mxcl.gitlab-runner"]) {
        Some("gitlab-runner")
    } else if is(&["buildkite-agent", "com.buildkite.buildkite-agent", "homebrew.mxcl.buildkite-agent"]) {
        Some("buildkite")
    } else if is(&[
        "jenkins",
        "jenkins-agent",
        "jenkins-slave",
        "org.jenkins-ci",
        "homebrew.mxcl.jenkins",
        "homebrew.mxcl.jenkins-lts",
    ]) || starts(&["jenkinsslave-", "jenkinsagent-", "jenkins-agent-", "org.jenkins-ci."])
    {
        Some("jenkins")
    } else if is(&["teamcity-agent", "buildagent", "tcbuildagent", "jetbrains.teamcity.buildagent"]) {
        Some("teamcity")
    } else {
        None
    }
}

/// The Windows services of CI agents on the running machine, read from the service control
/// manager's registry key (live Windows scans only: a rooted image has no live registry).
#[cfg(windows)]
pub fn windows_services() -> Vec<RunnerService> {
    use winreg::RegKey;
    use winreg::enums::{HKEY_LOCAL_MACHINE, KEY_READ};
    const KEY: &str = r"SYSTEM\CurrentControlSet\Services";
    let Ok(services) = RegKey::predef(HKEY_LOCAL_MACHINE).open_subkey_with_flags(KEY, KEY_READ) else {
        return Vec::new();
    };
    services
        .enum_keys()
        .filter_map(Result::ok)
        .take(100_000)
        .filter_map(|name| {
            runner_service_ci(&name).map(|ci| RunnerService {
                ci,
                service: format!("service:{name}"),
                path: format!(r"HKLM\{KEY}\{name}"),
            })
        })
        .collect()
}

/// The CI system running the current job, from the job's own variables (a bare `CI` is not
/// enough: many tools set it outside CI).
pub fn ci_job(host: &HostView) -> Option<&'static str> {
    let set = |name: &str| host.env(name).is_some_and(|v| !v.eq_ignore_ascii_case("false"));
    [
        ("GITHUB_ACTIONS", "github-actions"),
        ("TF_BUILD", "azure-pipelines"),
        ("GITLAB_CI", "gitlab-runner"),
        ("JENKINS_URL", "jenkins"),
        ("BUILDKITE", "buildkite"),
        ("TEAMCITY_VERSION", "teamcity"),
    ]
    .iter()
    .find(|(var, _)| set(var))
    .map(|(_, ci)| *ci)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn services_name_their_ci_family() {
        for (name, ci) in [
            ("actions.runner.contoso-web.build01.service", Some("github-actions")),
            ("actions.runner.contoso.mac01", Some("github-actions")),
            ("vsts.agent.contoso.Default.build02.service", Some("azure-pipelines")),
            ("vstsagent.contoso.Default.BUILD03", Some("azure-pipelines")),
            ("gitlab-runner.service", Some("gitlab-runner")),
            ("buildkite-agent@2.service", Some("buildkite")),
            ("jenkins-agent.service", Some("jenkins")),
            ("jenkinsslave-C__jenkins", Some("jenkins")),
            ("TCBuildAgent", Some("teamcity")),
            ("actions-runner-cleanup.service", None),
            ("nginx.service", None),
            ("com.apple.actions", None),
        ] {
            assert_eq!(runner_service_ci(name), ci, "{name}");
        }
    }

    #[test]
    fn job_variables_name_the_ci_system_but_a_bare_ci_does_not() {
        let job = |vars: &[(&str, &str)]| {
            let env: BTreeMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            ci_job(&HostView::live(env))
        };
        assert_eq!(job(&[("CI", "true")]), None);
        assert_eq!(job(&[("CI", "true"), ("GITHUB_ACTIONS", "true")]), Some("github-actions"));
        assert_eq!(job(&[("TF_BUILD", "True")]), Some("azure-pipelines"));
        assert_eq!(job(&[("GITLAB_CI", "true")]), Some("gitlab-runner"));
        assert_eq!(job(&[("JENKINS_URL", "https://ci.example/")]), Some("jenkins"));
        assert_eq!(job(&[("BUILDKITE", "true")]), Some("buildkite"));
        assert_eq!(job(&[("TEAMCITY_VERSION", "2025.03")]), Some("teamcity"));
        assert_eq!(job(&[("GITHUB_ACTIONS", "false")]), None);
    }
}
