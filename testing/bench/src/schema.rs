//! A PostgreSQL store for one run: `--store postgres://...` names the server, and each run gets a schema of its
//! own, created empty before the daemons start and dropped after they stop (kept with `HANDOFFD_BENCH_KEEP`), so
//! runs never see each other's rows. The bench only creates and drops the schema: it never reads the daemon's rows.

use anyhow::Context;

/// A schema made for one run.
#[derive(Debug)]
pub struct RunSchema {
    server: String,
    pub name: String,
}

impl RunSchema {
    pub async fn create(server: &str, seed: u64) -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let name = format!("bench_{}_{seed}_{nanos}", std::process::id());
        execute(server, &format!("CREATE SCHEMA {name}")).await.with_context(|| format!("creating schema `{name}`"))?;
        Ok(Self { server: server.to_owned(), name })
    }

    /// The daemons' `store.url`: the server's URL with the schema as search path (and as application name, so an
    /// admin sees whose connections these are).
    pub fn store_url(&self) -> String {
        let separator = if self.server.contains('?') { '&' } else { '?' };
        format!("{}{separator}options[search_path]={name}&application_name={name}", self.server, name = self.name)
    }

    /// Drops the schema (after the daemons stopped), unless the run is kept.
    pub async fn drop_unless_kept(self) -> anyhow::Result<()> {
        if std::env::var_os("HANDOFFD_BENCH_KEEP").is_some() {
            eprintln!("bench schema kept: {}", self.name);
            return Ok(());
        }
        execute(&self.server, &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .await
            .with_context(|| format!("dropping schema `{}`", self.name))
    }
}

/// Whether `url` names a PostgreSQL server.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

async fn execute(server: &str, sql: &str) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(server).await.context("connecting to the PostgreSQL server of --store")?;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(&pool).await?;
    pool.close().await;
    Ok(())
}
