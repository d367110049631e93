//! `clavis client export` and `clavis client import`: JSON Lines of a tenant's clients
//! (the format is described in `clavis_service::client_transfer` and docs/operations.md).

use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;

use clavis_core::TenantId;
use clavis_service::{Actor, ImportItem, ImportOutcome, ImportReport, Services};

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
    let actor = Actor("cli-import".into());
    let mut report = ImportReport::default();
    let (mut batch, mut numbers) = (Vec::with_capacity(BATCH), Vec::with_capacity(BATCH));
    let mut in_batch: HashSet<String> = HashSet::with_capacity(BATCH);
    let started = Instant::now();
    let mut lines = input.lines().enumerate().peekable();
    while lines.peek().is_some() {
        // Up to BATCH non-empty lines, and their numbers (from 1).
        let (mut read, mut texts) = (Vec::with_capacity(BATCH), Vec::with_capacity(BATCH));
        for (i, line) in lines.by_ref() {
            let line = line?;
            if !line.trim().is_empty() {
                read.push(i as u64 + 1);
                texts.push(line);
            }
            if texts.len() == BATCH {
                break;
            }
        }
        let prepared = services.prepare_import(t, &texts, &actor).await?;
        for (number, item) in read.into_iter().zip(prepared) {
            match item {
                Ok(item) => {
                    // A client named twice goes in the next transaction, after its first line.
                    if !in_batch.insert(item.client.client_id.clone()) {
                        flush(services, t, &mut report, &mut batch, &mut numbers).await?;
                        in_batch = HashSet::from([item.client.client_id.clone()]);
                    }
                    batch.push(item);
                    numbers.push(number);
                }
                Err(why) => report.refused.push((number, why)),
            }
        }
        flush(services, t, &mut report, &mut batch, &mut numbers).await?;
        in_batch.clear();
        if progress {
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            eprint!("\rimported {} lines ({:.0}/s)", report.lines(), report.lines() as f64 / secs);
        }
    }
    if progress {
        eprintln!("\rimported {} lines in {:.1} s", report.lines(), started.elapsed().as_secs_f64());
    }
    Ok(report)
}

/// Imports the batch in one transaction and counts its outcomes.
async fn flush(
    services: &Services,
    t: &TenantId,
    report: &mut ImportReport,
    batch: &mut Vec<ImportItem>,
    numbers: &mut Vec<u64>,
) -> anyhow::Result<()> {
    let items = std::mem::take(batch);
    let outcomes = services.import_batch(t, &items).await?;
    for ((item, outcome), line) in items.iter().zip(outcomes).zip(numbers.drain(..)) {
        match outcome {
            ImportOutcome::Created => report.created += 1,
            ImportOutcome::Updated => report.updated += 1,
            ImportOutcome::Unchanged => report.unchanged += 1,
            ImportOutcome::Deleted => report.deleted.push((line, item.client.client_id.clone())),
        }
    }
    Ok(())
}

/// Whether to show progress: only when stderr is a terminal.
pub fn progress_wanted() -> bool {
    std::io::stderr().is_terminal()
}
