//! A real `harbour-server` process on 127.0.0.1 for the cross-crate tests, on SQLite or on
//! PostgreSQL: created, started on a free port, SIGKILLed, restarted on the same store and
//! port, and scanned for plaintext afterwards. Every process is killed when dropped.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::binary;

/// The `--metrics-token` of every server these tests start (`/metrics` is not served without one).
pub const METRICS_TOKEN: &str = "metrics-token-for-the-tests-0123456789";

/// Where a server keeps its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// The URL of a PostgreSQL server where fresh databases may be created.
    Postgres(String),
}

impl Backend {
    /// SQLite always, and PostgreSQL when `HARBOUR_TEST_POSTGRES_URL` names one.
    pub fn all() -> Vec<Backend> {
        let mut backends = vec![Backend::Sqlite];
        backends.extend(postgres_url().map(Backend::Postgres));
        backends
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// The PostgreSQL server to test against. Without one the PostgreSQL half is skipped with a
/// notice on the real stderr; with `CI=true` that is a failure, since CI must test both backends.
pub fn postgres_url() -> Option<String> {
    static ANNOUNCED: OnceLock<()> = OnceLock::new();
    match std::env::var("HARBOUR_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ => {
            assert!(
                std::env::var("CI").map_or(true, |ci| ci != "true"),
                "HARBOUR_TEST_POSTGRES_URL is not set, but CI=true: CI must test the PostgreSQL backend \
                 (start one with `export HARBOUR_TEST_POSTGRES_URL=$(bash .ci/postgres.sh start)`)"
            );
            ANNOUNCED.get_or_init(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** HARBOUR_TEST_POSTGRES_URL is not set: the sync tests do NOT run on PostgreSQL. \
                     Start one with: export HARBOUR_TEST_POSTGRES_URL=$(bash .ci/postgres.sh start)\n"
                );
            });
            None
        }
    }
}

/// A server's store (a SQLite file in `dir`, or a fresh PostgreSQL database) and its log file.
#[derive(Debug)]
pub struct ServerStore {
    /// The `--db` argument.
    pub db: String,
    /// Holds the SQLite files (if any), the server's log and scratch files of the scan.
    pub dir: PathBuf,
    pub backend: Backend,
}

impl ServerStore {
    /// A new, empty store below `dir` (created if needed).
    pub fn new(backend: &Backend, dir: &Path) -> ServerStore {
        std::fs::create_dir_all(dir).expect("the server directory can be created");
        let db = match backend {
            Backend::Sqlite => format!("sqlite:{}", dir.join("server.db").display()),
            Backend::Postgres(url) => postgres::fresh_database(url),
        };
        ServerStore { db, dir: dir.to_owned(), backend: backend.clone() }
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// `harbour-server init --json`: creates the schema and returns the bootstrap token.
    pub fn init(&self) -> String {
        let output = Command::new(binary("harbour-server"))
            .args(["init", "--db", &self.db, "--json"])
            .output()
            .expect("harbour-server runs");
        assert!(output.status.success(), "harbour-server init failed: {}", String::from_utf8_lossy(&output.stderr));
        let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("init --json prints JSON");
        printed["bootstrap_token"].as_str().expect("init prints a bootstrap token").to_owned()
    }

    /// Serves this store on a free port of 127.0.0.1.
    pub fn start(&self) -> Server {
        Server::start(&self.db, &self.log(), 0)
    }

    /// Which `needles` appear in the store (every file of the SQLite store and its WAL; for
    /// PostgreSQL every row of every table and, when readable, the database's files) or the
    /// server's log. Returns (needle index, where) pairs, never the needle.
    pub fn plaintext_found(&self, needles: &[&str]) -> Vec<(usize, PathBuf)> {
        let mut found = crate::plaintext_found(&self.dir, needles);
        if let Backend::Postgres(_) = self.backend {
            let scratch = tempfile::tempdir().expect("a scratch directory");
            let dump = scratch.path().join("rows.bin");
            let files = postgres::dump_rows_and_locate_files(&self.db, &dump);
            found.extend(crate::plaintext_found(scratch.path(), needles));
            for dir in files {
                found.extend(crate::plaintext_found(&dir, needles));
            }
        }
        found
    }
}

/// How most cross-crate tests begin: a real server on a SQLite store below `root/server`, a
/// ministry deployment made by the `harbour` binary in `root/ministry` (the administrator's
/// laptop), one team, and an invitation into it with its one-time code.
#[derive(Debug)]
pub struct Organisation {
    pub store: ServerStore,
    pub server: Server,
    /// The administrator's data directory.
    pub ministry: PathBuf,
    /// What `harbour deployment create --json` printed.
    pub created: serde_json::Value,
    /// What `harbour team create --json` printed.
    pub team: serde_json::Value,
    /// What `harbour invite create --json` printed (`invitation`, `code`).
    pub invited: serde_json::Value,
}

/// A server started for an [`Organisation`] not made yet: what lies between them (a proxy)
/// can be started first.
#[derive(Debug)]
pub struct Serving {
    pub store: ServerStore,
    pub server: Server,
    bootstrap: String,
    root: PathBuf,
}

impl Organisation {
    /// A server on SQLite below `root`, the ministry deployment, `team` and an invitation into it.
    pub fn start(root: &Path, team: &str) -> Organisation {
        let serving = Organisation::serve(root);
        let url = serving.server.url.clone();
        serving.deploy(&url, team)
    }

    /// Only the server, on SQLite below `root`; [`Serving::deploy`] makes the rest.
    pub fn serve(root: &Path) -> Serving {
        let store = ServerStore::new(&Backend::Sqlite, &root.join("server"));
        let bootstrap = store.init();
        let server = store.start();
        Serving { store, server, bootstrap, root: root.to_owned() }
    }

    pub fn invitation(&self) -> &str {
        self.invited["invitation"].as_str().expect("invite create prints the invitation")
    }

    pub fn code(&self) -> &str {
        self.invited["code"].as_str().expect("invite create prints the code")
    }
}

impl Serving {
    /// The ministry deployment made through `url` (the server's, or a proxy's in front of it),
    /// `team`, and an invitation into it.
    pub fn deploy(self, url: &str, team: &str) -> Organisation {
        let ministry = self.root.join("ministry");
        assert!(crate::harbour(&ministry, &["init", "--worker", "Administrator"]).status.success());
        let created = crate::harbour_json(
            &ministry,
            &["deployment", "create", "--server", url, "--bootstrap-token", &self.bootstrap],
        );
        let made = crate::harbour_json(&ministry, &["team", "create", team]);
        let invited = crate::harbour_json(&ministry, &["invite", "create", "--team", team]);
        Organisation { store: self.store, server: self.server, ministry, created, team: made, invited }
    }
}

/// A running `harbour-server serve`. SIGKILLed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub port: u16,
    db: String,
    log: PathBuf,
}

impl Server {
    /// Serves `db` on 127.0.0.1:`port` (0: a free one), appending its log to `log`. The server
    /// logs at debug level so that the plaintext scan reads everything it could ever say.
    pub fn start(db: &str, log: &Path, port: u16) -> Server {
        let started = Instant::now();
        loop {
            match Server::try_start(db, log, port) {
                Ok(server) => return server,
                // The port of a killed server may stay busy for a moment.
                Err(error) if port != 0 && started.elapsed() < Duration::from_secs(20) => {
                    let _ = error;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(error) => panic!("harbour-server did not start: {error}"),
            }
        }
    }

    fn try_start(db: &str, log: &Path, port: u16) -> Result<Server, String> {
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("the log opens");
        let mut child = Command::new(binary("harbour-server"))
            .args(["serve", "--db", db, "--listen", &format!("127.0.0.1:{port}")])
            .args(["--metrics-token", METRICS_TOKEN])
            .env("HARBOUR_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("harbour-server starts");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("stdout is piped")).read_line(&mut line);
        let Some(url) = line.trim().strip_prefix("harbour-server listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            let log_text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = log_text.lines().rev().take(5).collect();
            return Err(format!("it printed {line:?}; last log lines: {tail:?}"));
        };
        let port = url.rsplit(':').next().and_then(|port| port.parse().ok()).expect("the URL ends with the port");
        Ok(Server { url: url.to_owned(), port, child: Some(child), db: db.to_owned(), log: log.to_owned() })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: no graceful shutdown, no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same store and the same port (devices keep its URL).
    pub fn restart(&mut self) {
        self.kill();
        let fresh = Server::start(&self.db, &self.log, self.port);
        assert_eq!(fresh.url, self.url, "the server came back on another address");
        *self = fresh;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// SIGKILLs process `pid` (the server from another thread than the one owning it).
pub fn sigkill(pid: u32) {
    // `kill(1)`, since the workspace forbids the unsafe call to libc::kill.
    let status = Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("kill runs");
    assert!(status.success(), "kill -KILL {pid} failed");
}

mod postgres {
    //! PostgreSQL chores, each on its own thread and runtime so that async tests may call them.

    use std::path::{Path, PathBuf};

    fn block_on<T: Send + 'static>(work: impl std::future::Future<Output = T> + Send + 'static) -> T {
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(work)
        })
        .join()
        .expect("the PostgreSQL chore did not panic")
    }

    async fn connect(url: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to PostgreSQL at HARBOUR_TEST_POSTGRES_URL: {error}"));
        tokio::spawn(connection);
        client
    }

    /// Creates an empty database on the server at `url`; returns its URL.
    pub fn fresh_database(url: &str) -> String {
        let url = url.to_owned();
        block_on(async move {
            let client = connect(&url).await;
            let name = format!("harbour_tests_{}", uuid::Uuid::new_v4().simple());
            client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("CREATE DATABASE");
            let (base, _) = url.rsplit_once('/').expect("a PostgreSQL URL ends with /DATABASE");
            format!("{base}/{name}")
        })
    }

    /// Writes the raw bytes of every column of every row of the database's tables to `dump`
    /// (text as UTF-8, bytea as is), and returns the database's own directory of files when
    /// this process can read it (after a checkpoint, so committed rows are in those files).
    pub fn dump_rows_and_locate_files(db: &str, dump: &Path) -> Vec<PathBuf> {
        let (db, dump) = (db.to_owned(), dump.to_owned());
        block_on(async move {
            let client = connect(&db).await;
            let columns = client
                .query(
                    "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
                     WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
                    &[],
                )
                .await
                .expect("list the columns");
            let mut tables: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for row in columns {
                let (table, column, kind): (String, String, String) = (row.get(0), row.get(1), row.get(2));
                let expression = if kind == "bytea" {
                    format!("\"{column}\"")
                } else {
                    format!("convert_to(\"{column}\"::text, 'UTF8')")
                };
                tables.entry(table).or_default().push(expression);
            }
            let mut bytes = Vec::new();
            for (table, expressions) in &tables {
                let sql = format!("SELECT {} FROM \"{table}\"", expressions.join(", "));
                for row in client.query(&sql, &[]).await.expect("read a table") {
                    for index in 0..row.len() {
                        if let Some(value) = row.get::<_, Option<Vec<u8>>>(index) {
                            bytes.extend_from_slice(&value);
                            bytes.push(b'\n');
                        }
                    }
                }
            }
            std::fs::write(&dump, bytes).expect("the dump is written");
            let _ = client.batch_execute("CHECKPOINT").await;
            let located = client
                .query_one(
                    "SELECT current_setting('data_directory') || '/base/' || oid::text FROM pg_database
                     WHERE datname = current_database()",
                    &[],
                )
                .await
                .ok()
                .map(|row| PathBuf::from(row.get::<_, String>(0)));
            located.into_iter().filter(|dir| std::fs::read_dir(dir).is_ok()).collect()
        })
    }
}
