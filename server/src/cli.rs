//! The command line: `hatchery` (or `hatchery serve`) runs the server;
//! `hatchery user create` adds an account for scripted installs.

use std::io::BufRead;

use clap::{Parser, Subcommand};
use hatchery_shared::api::{
    accounts::{NewAccount, Role},
    audit::AuditAction,
};

use crate::{
    auth::{AccountError, password, validated_account},
    config::Config,
    store::{Audit, Store, StoreError},
};

/// Hatchery: a self-hosted platform for AI agents. Configured by `HATCHERY_*` variables.
#[derive(Debug, Parser)]
#[command(name = "hatchery", version)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
}

/// A subcommand of `hatchery user`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is read from standard input (one line), or asked
    /// for without echo on a terminal.
    Create {
        /// The email to sign in with.
        #[arg(long)]
        email: String,
        /// The name shown in the interface (default: the part of the email before `@`).
        #[arg(long)]
        name: Option<String>,
        /// Make the account an admin.
        #[arg(long)]
        admin: bool,
    },
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The database could not be opened, migrated or written.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The input was refused.
    #[error("{0}")]
    Invalid(String),
    /// The password could not be read.
    #[error("cannot read the password: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs `hatchery user …`; returns what to print on success.
pub async fn run_user_command(
    config: &Config,
    command: UserCommand,
) -> Result<String, CommandError> {
    let UserCommand::Create { email, name, admin } = command;
    let password = read_password()?;
    let display_name =
        name.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    let role = if admin { Role::Admin } else { Role::User };
    let account = NewAccount {
        email,
        display_name,
        password,
        role: Some(role),
    };
    let new = validated_account(account, role, &password::Hashing::for_this_machine())
        .await
        .map_err(|err| match err {
            AccountError::Invalid(fields) => CommandError::Invalid(
                fields
                    .iter()
                    .map(|(field, message)| format!("{field}: {message}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            AccountError::Busy(busy) => CommandError::Invalid(busy.to_string()),
        })?;
    std::fs::create_dir_all(&config.data_dir)?;
    let store = Store::connect(&config.database).await?;
    store.migrate().await?;
    let audit = Audit::by_system(AuditAction::UserCreated, "from the command line");
    let user = store
        .create_user(&new, &audit)
        .await
        .map_err(|err| match err {
            StoreError::Conflict(what) => CommandError::Invalid(format!("{what} already exists")),
            err => err.into(),
        })?;
    store.close().await;
    Ok(format!(
        "created {} {} ({})",
        user.role.as_str(),
        user.email,
        user.id
    ))
}

fn read_password() -> Result<String, std::io::Error> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("Password: ");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
