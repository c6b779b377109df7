//! A scratch PostgreSQL schema per test, for the tests that run the daemon on PostgreSQL.
//!
//! `HANDOFFD_TEST_POSTGRES_URL` names the server (`.ci/run` sets it); without it those tests say they are
//! skipped, and under CI (`CI` set) they fail instead, so CI cannot skip them quietly.

use std::io::Write;

pub const URL_VAR: &str = "HANDOFFD_TEST_POSTGRES_URL";

/// The test server's URL, or `None` after saying the test is skipped.
pub fn url_or_skip(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
            assert!(!ci, "{URL_VAR} is not set under CI: the PostgreSQL tests must run there");
            // Straight to stderr, past the test harness's capture: a skip must be seen.
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {URL_VAR} is not set (no PostgreSQL to test against)");
            None
        }
    }
}

/// A schema made for one test and dropped with it (with everything in it).
pub struct Schema {
    server: String,
    pub name: String,
}

impl Schema {
    /// Made on a thread of its own, so that it works from sync code and from any runtime.
    pub fn create(server: &str) -> Self {
        let name = format!("it_{}", uuid::Uuid::new_v4().simple());
        run_sql(server, &format!("CREATE SCHEMA {name}")).expect("a scratch schema on the test PostgreSQL");
        Self { server: server.to_owned(), name }
    }

    /// `store.url` for a daemon that keeps its tables in this schema.
    pub fn store_url(&self) -> String {
        let separator = if self.server.contains('?') { '&' } else { '?' };
        // Named after the schema, so that its connections can be ended when it is dropped.
        format!("{}{separator}options[search_path]={name}&application_name={name}", self.server, name = self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // A failed test may leave a daemon whose connections hold locks in the schema.
        let end_connections =
            format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{}'", self.name);
        let dropped = run_sql(&self.server, &end_connections)
            .and_then(|()| run_sql(&self.server, &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)));
        if let Err(error) = dropped {
            let _ = writeln!(std::io::stderr(), "could not drop the test schema {}: {error}", self.name);
        }
    }
}

fn run_sql(server: &str, sql: &str) -> Result<(), String> {
    let (server, sql) = (server.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let pool = sqlx::PgPool::connect(&server).await.map_err(|e| e.to_string())?;
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.map_err(|e| e.to_string())?;
            pool.close().await;
            Ok(())
        })
    })
    .join()
    .map_err(|_| "the thread panicked".to_owned())?
}
