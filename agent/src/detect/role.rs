//! The host's role from what is on disk: the files that common CI agents leave when installed
//! (GitHub Actions runner, Azure Pipelines agent, GitLab Runner, Jenkins agent, TeamCity agent,
//! Buildkite agent). Any of them makes the host a `build-runner`.
//!
//! Markers are paths relative to the system root or to a user home; `*` matches any folder.

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
