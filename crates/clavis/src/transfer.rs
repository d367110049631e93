//! `clavis client export` and `clavis client import`: JSON Lines of a tenant's clients
//! (the format is described in `clavis_service::client_transfer` and docs/operations.md).

use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;

use clavis_core::TenantId;
use clavis_service::{hydra_rows, Actor, ImportItem, ImportOutcome, ImportReport, Services};
use clavis_store::HydraDb;

/// Clients read per query on export, and imported per transaction.
pub const BATCH: usize = 1000;

/// Writes every live client of the tenant, oldest first, one line each; returns how many.
pub async fn export(services: &Services, t: &TenantId, out: &mut impl Write) -> anyhow::Result<u64> {
    let (mut after, mut n) = (0, 0u64);
    loop {
        let (lines, next) = services.export_clients(t, after, BATCH as i64).await?;
        for line in &lines {
            writeln!(out, "{line}")?;
        }
        n += lines.len() as u64;
        match next {
            Some(seq) => after = seq,
            None => break,
        }
    }
    out.flush()?;
    Ok(n)
}

/// Imports every line of `input`; a line that cannot be imported is reported, not fatal.
/// With `progress`, a line on stderr shows the count and rate as it goes.
pub async fn import(services: &Services, t: &TenantId, input: impl BufRead, progress: bool) -> anyhow::Result<ImportReport> {
    let mut importer = Importer::new(services, t, progress);
    let mut lines = input.lines().enumerate();
    loop {
        // Up to BATCH non-empty lines, and their numbers (from 1).
        let (mut numbers, mut texts) = (Vec::with_capacity(BATCH), Vec::with_capacity(BATCH));
        for (i, line) in lines.by_ref() {
            let line = line?;
            if !line.trim().is_empty() {
                numbers.push(i as u64 + 1);
                texts.push(line);
            }
            if texts.len() == BATCH {
                break;
            }
        }
        if texts.is_empty() {
            return Ok(importer.finish());
        }
        importer.batch(numbers, &texts).await?;
    }
}

/// Imports every client of a Hydra database's `hydra_client` table, in id order; a row is
/// numbered from 1 in that order, and one that cannot be imported is reported, not fatal.
pub async fn import_hydra_db(services: &Services, t: &TenantId, db: &HydraDb, progress: bool) -> anyhow::Result<ImportReport> {
    let mut importer = Importer::new(services, t, progress);
    let (mut after, mut row) = (String::new(), 0u64);
    loop {
        let rows = db.rows_after(&after, BATCH as i64).await?;
        let Some((last, _)) = rows.last() else { return Ok(importer.finish()) };
        after = last.clone();
        let (mut numbers, mut texts) = (Vec::with_capacity(BATCH), Vec::with_capacity(BATCH));
        for (id, json) in rows {
            row += 1;
            match hydra_rows::line_from_row(&json) {
                Ok(line) => {
                    numbers.push(row);
                    texts.push(line);
                }
                Err(why) => importer.report.refused.push((row, format!("{id}: {why}"))),
            }
        }
        importer.batch(numbers, &texts).await?;
    }
}

/// An import under way: lines go in by batches of at most BATCH, a transaction each.
struct Importer<'a> {
    services: &'a Services,
    t: &'a TenantId,
    actor: Actor,
    report: ImportReport,
    progress: bool,
    started: Instant,
    /// Batches imported so far.
    batches: u64,
}

impl<'a> Importer<'a> {
    fn new(services: &'a Services, t: &'a TenantId, progress: bool) -> Self {
        Self { services, t, actor: Actor("cli-import".into()), report: ImportReport::default(), progress, started: Instant::now(), batches: 0 }
    }

    /// Checks and imports the lines numbered `numbers`.
    async fn batch(&mut self, numbers: Vec<u64>, texts: &[String]) -> anyhow::Result<()> {
        let prepared = self.services.prepare_import(self.t, texts, &self.actor).await?;
        let (mut batch, mut in_batch) = (Vec::with_capacity(BATCH), Vec::with_capacity(BATCH));
        let mut ids: HashSet<String> = HashSet::with_capacity(BATCH);
        for (number, item) in numbers.into_iter().zip(prepared) {
            match item {
                Ok(item) => {
                    // A client named twice goes in the next transaction, after its first line.
                    if !ids.insert(item.client.client_id.clone()) {
                        self.flush(&mut batch, &mut in_batch).await?;
                        ids = HashSet::from([item.client.client_id.clone()]);
                    }
                    batch.push(item);
                    in_batch.push(number);
                }
                Err(why) => self.report.refused.push((number, why)),
            }
        }
        self.flush(&mut batch, &mut in_batch).await?;
        // After 1, 10, 100, … batches: the statistics follow the tables as they grow tenfold.
        self.batches += 1;
        let mut n = self.batches;
        while n.is_multiple_of(10) {
            n /= 10;
        }
        if n == 1 {
            self.services.refresh_statistics().await?;
        }
        if self.progress {
            let (n, secs) = (self.report.lines(), self.started.elapsed().as_secs_f64().max(1e-3));
            eprint!("\rimported {n} ({:.0}/s)", n as f64 / secs);
        }
        Ok(())
    }

    /// Imports the batch in one transaction and counts its outcomes.
    async fn flush(&mut self, batch: &mut Vec<ImportItem>, numbers: &mut Vec<u64>) -> anyhow::Result<()> {
        let items = std::mem::take(batch);
        let outcomes = self.services.import_batch(self.t, &items).await?;
        for ((item, outcome), line) in items.iter().zip(outcomes).zip(numbers.drain(..)) {
            match outcome {
                ImportOutcome::Created => self.report.created += 1,
                ImportOutcome::Updated => self.report.updated += 1,
                ImportOutcome::Unchanged => self.report.unchanged += 1,
                ImportOutcome::Deleted => self.report.deleted.push((line, item.client.client_id.clone())),
            }
        }
        Ok(())
    }

    fn finish(mut self) -> ImportReport {
        if self.progress {
            eprintln!("\rimported {} in {:.1} s", self.report.lines(), self.started.elapsed().as_secs_f64());
        }
        self.report.refused.sort_by_key(|(n, _)| *n);
        self.report
    }
}

/// Whether to show progress: only when stderr is a terminal.
pub fn progress_wanted() -> bool {
    std::io::stderr().is_terminal()
}
