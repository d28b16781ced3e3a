//! The usage line printed after a command-line mistake. clap's lists the flags just typed as if
//! they were required (`Usage: azver-agent scan --format <FORMAT>` after `scan --format json
//! --bogus`); both binaries parse through [`parse_args`], which prints the subcommand's own
//! usage instead (`Usage: azver-agent scan [OPTIONS]`).

/// Parses the command line as [`clap::Parser::parse`] does, but an error's usage line is the
/// subcommand's own (`Usage: PROGRAM scan [OPTIONS]`): clap's lists the flags just typed as if
/// they were required (`scan --format <FORMAT>` after `scan --format json --bogus`).
pub fn parse_args<P: clap::Parser>() -> P {
    P::try_parse().unwrap_or_else(|error| exit_with_usage(error, P::command(), std::env::args_os()))
}

/// Replaces `error`'s usage line by that of the (sub)command `args` name, then exits as clap does.
fn exit_with_usage(error: clap::Error, command: clap::Command, args: impl Iterator<Item = std::ffi::OsString>) -> ! {
    with_usage(error, command, args).exit()
}

/// `error` with the usage line of the (sub)command `args` name, when it has a usage line.
fn with_usage(
    mut error: clap::Error,
    mut command: clap::Command,
    args: impl Iterator<Item = std::ffi::OsString>,
) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    if error.get(ContextKind::Usage).is_some() {
        error.insert(ContextKind::Usage, ContextValue::StyledStr(subcommand_usage(&mut command, args)));
    }
    error
}

/// The usage line of the deepest subcommand named by `args` (the program name first).
fn subcommand_usage(
    command: &mut clap::Command,
    args: impl Iterator<Item = std::ffi::OsString>,
) -> clap::builder::StyledStr {
    command.build();
    let names: Vec<String> = args.skip(1).take_while(|a| a != "--").filter_map(|a| a.into_string().ok()).collect();
    usage_of(command, &names)
}

/// The usage of `command`, or of its subcommand named first in `args` (other words are flags,
/// their values and positionals).
fn usage_of(command: &mut clap::Command, args: &[String]) -> clap::builder::StyledStr {
    let Some(at) = args.iter().position(|a| command.find_subcommand(a).is_some()) else {
        return command.render_usage();
    };
    let rest = args.get(at + 1..).unwrap_or_default();
    match args.get(at).and_then(|name| command.find_subcommand_mut(name)) {
        Some(sub) => usage_of(sub, rest),
        None => command.render_usage(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, Command};

    fn program() -> Command {
        Command::new("prog")
            .subcommand(Command::new("config").subcommand(Command::new("check").arg(Arg::new("format").long("format"))))
            .subcommand(Command::new("host").arg(Arg::new("db").long("db").required(true)).arg(Arg::new("id")))
    }

    fn usage(args: &[&str]) -> String {
        let mut command = program();
        subcommand_usage(&mut command, args.iter().map(std::ffi::OsString::from)).to_string()
    }

    #[test]
    fn the_usage_is_the_named_subcommands_own_not_the_flags_typed() {
        assert_eq!(
            usage(&["prog", "config", "check", "--format", "json", "--bogus"]),
            "Usage: prog config check [OPTIONS]"
        );
        assert_eq!(usage(&["prog", "host", "x", "--db", "f.db", "--bogus"]), "Usage: prog host --db <db> [id]");
        assert_eq!(usage(&["prog", "--bogus"]), "Usage: prog [COMMAND]");
        // After `--` every word is a value, never a subcommand.
        assert_eq!(usage(&["prog", "--", "host"]), "Usage: prog [COMMAND]");
        // A word that is not a subcommand (a flag's value, a positional) is passed over.
        assert_eq!(usage(&["prog", "json", "config"]), "Usage: prog config [COMMAND]");
    }

    #[test]
    fn an_error_with_a_usage_line_gets_the_subcommands() {
        use clap::error::{ContextKind, ContextValue};
        let args = ["prog", "config", "check", "--format", "json", "--bogus"];
        let error = program().try_get_matches_from(args).expect_err("--bogus is refused");
        let before = error.get(ContextKind::Usage).map(ToString::to_string).unwrap_or_default();
        assert!(before.contains("--format"), "clap's own usage lists the typed flag: {before}");
        let replaced = with_usage(error, program(), args.iter().map(std::ffi::OsString::from));
        assert!(matches!(
            replaced.get(ContextKind::Usage),
            Some(ContextValue::StyledStr(usage)) if usage.to_string() == "Usage: prog config check [OPTIONS]"
        ));
    }
}
