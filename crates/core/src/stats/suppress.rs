//! Small-cell suppression for tables that leave the ministry. A count from 1 to
//! `threshold - 1` (CTDC's k = 11 by default) could point at a person, so it is shown as
//! `<11`; totals are counts too. Then complementary cells are hidden until no hidden count can
//! be worked out from the totals that remain:
//!
//! The table with its totals is a grid; each row and each column of the grid says "these
//! entries add up to that total". Hidden entries are the edges of a graph between rows and
//! columns, and a hidden entry can be computed from what is shown exactly when its edge lies on
//! no cycle (each cycle is a way to move counts between hidden entries without changing any
//! total). So complements are added until every row and column holds no single hidden entry,
//! and no hidden entry is a bridge of that graph. Complements are the smallest non-zero inner
//! cells that close a cycle, then totals, then zeros. Zeros that are not needed stay shown.
//!
//! Tables of one report are published together, and some are tied ([`Links`]): the UNODC
//! tables of the same victims share their per-sex totals and grand total, and the TIP tables of
//! victims referred and assisted count, cell by cell, some of the victims identified. So
//! [`suppress_together`] hides a shared total in every table as soon as one hides it, hides a
//! nested table's cell whose difference from the table it is part of is a small count (people
//! identified and not referred), and then checks the tables as one system of equations
//! ([`recoverable`]): while a hidden entry can be worked out from everything shown, one more
//! entry beside it is hidden.

use serde::Serialize;

/// CTDC's k-anonymity threshold: counts under it are not published.
pub const DEFAULT_THRESHOLD: u64 = 11;

/// A table of counts; its totals are computed, not stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Table {
    /// A stable name (`tip.victims_identified`).
    pub id: String,
    pub title: String,
    /// What the rows are (`form_of_exploitation`).
    pub row_header: String,
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    /// `cells[row][column]`.
    pub cells: Vec<Vec<u64>>,
}

impl Table {
    pub fn row_total(&self, row: usize) -> u64 {
        self.cells[row].iter().sum()
    }

    pub fn column_total(&self, column: usize) -> u64 {
        self.cells.iter().map(|row| row[column]).sum()
    }

    pub fn total(&self) -> u64 {
        self.cells.iter().flatten().sum()
    }

    /// The cells with the totals: one more column (row totals) and one more row (column
    /// totals, then the grand total).
    pub fn grid(&self) -> Vec<Vec<u64>> {
        let mut grid: Vec<Vec<u64>> = (0..self.rows.len())
            .map(|row| {
                let mut line = self.cells[row].clone();
                line.push(self.row_total(row));
                line
            })
            .collect();
        let mut totals: Vec<u64> = (0..self.columns.len()).map(|column| self.column_total(column)).collect();
        totals.push(self.total());
        grid.push(totals);
        grid
    }
}

/// A count as published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Shown {
    Count(u64),
    /// Hidden: a small count, or a complement that would give one away.
    #[serde(serialize_with = "hidden")]
    Hidden(u64),
}

fn hidden<S: serde::Serializer>(threshold: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("<{threshold}"))
}

impl Shown {
    /// As written in a published table: the number, or `<11`.
    pub fn text(self) -> String {
        match self {
            Shown::Count(count) => count.to_string(),
            Shown::Hidden(threshold) => format!("<{threshold}"),
        }
    }
}

/// Which entries of `table.grid()` to hide: `hide[row][column]`.
pub fn suppression_mask(table: &Table, threshold: u64) -> Vec<Vec<bool>> {
    let grid = table.grid();
    let none = vec![vec![false; grid[0].len()]; grid.len()];
    mask_with(table, threshold, &none)
}

/// [`suppression_mask`], with the entries `forced` hidden besides the small ones.
fn mask_with(table: &Table, threshold: u64, forced: &[Vec<bool>]) -> Vec<Vec<bool>> {
    let grid = table.grid();
    let (rows, columns) = (grid.len(), grid[0].len());
    let mut hide: Vec<Vec<bool>> = grid
        .iter()
        .zip(forced)
        .map(|(line, forced)| {
            line.iter().zip(forced).map(|(&count, &forced)| forced || (count > 0 && count < threshold)).collect()
        })
        .collect();
    let inner = |row: usize, column: usize| row + 1 < rows && column + 1 < columns;
    // The cheapest entry to hide among candidates: inner before totals, non-zero before zero, small first.
    let cost = |&(row, column): &(usize, usize)| (grid[row][column] == 0, !inner(row, column), grid[row][column]);
    loop {
        let mut changed = false;
        // No row or column with a single hidden entry.
        for row in 0..rows {
            let hidden: Vec<usize> = (0..columns).filter(|&column| hide[row][column]).collect();
            if hidden.len() == 1 {
                let pick =
                    (0..columns).filter(|&column| !hide[row][column]).map(|column| (row, column)).min_by_key(cost);
                if let Some((row, column)) = pick {
                    hide[row][column] = true;
                    changed = true;
                }
            }
        }
        for column in 0..columns {
            let hidden: Vec<usize> = (0..rows).filter(|&row| hide[row][column]).collect();
            if hidden.len() == 1 {
                let pick = (0..rows).filter(|&row| !hide[row][column]).map(|row| (row, column)).min_by_key(cost);
                if let Some((row, column)) = pick {
                    hide[row][column] = true;
                    changed = true;
                }
            }
        }
        if changed {
            continue;
        }
        // No hidden entry on no cycle: close a cycle through each bridge.
        let Some((row, column)) = first_bridge(&hide) else { break };
        let (row_side, column_side) = sides_without(&hide, row, column);
        let pick = (0..rows)
            .filter(|&other_row| column_side.rows[other_row])
            .flat_map(|other_row| {
                (0..columns).filter(|&other_column| row_side.columns[other_column]).map(move |c| (other_row, c))
            })
            .filter(|&(r, c)| !hide[r][c])
            .min_by_key(cost)
            .expect("both sides of a bridge hold another row and column");
        hide[pick.0][pick.1] = true;
    }
    hide
}

/// The table as published: small counts and their complements hidden.
pub fn suppress(table: &Table, threshold: u64) -> Vec<Vec<Shown>> {
    let mask = suppression_mask(table, threshold);
    table
        .grid()
        .into_iter()
        .zip(mask)
        .map(|(line, hide)| {
            line.into_iter()
                .zip(hide)
                .map(|(count, hide)| if hide { Shown::Hidden(threshold) } else { Shown::Count(count) })
                .collect()
        })
        .collect()
}

/// An entry of one of several tables' grids: (table, row, column).
pub type Entry = (usize, usize, usize);

/// How the tables of one report are tied together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Links {
    /// Entries of different tables that are the same count (the per-sex totals of two tables
    /// of the same victims): each group is shown everywhere or hidden everywhere.
    pub equal: Vec<Vec<Entry>>,
    /// `(part, whole)`: a table counting, cell by cell, some of the people of another of the
    /// same shape (victims referred among victims identified).
    pub nested: Vec<(usize, usize)>,
}

/// Which entries of each table's grid to hide, the tables published together: no hidden entry
/// can be worked out from everything shown in all of them and their links, and no shown
/// difference between a nested table and its whole is a small count.
pub fn suppress_together(tables: &[Table], links: &Links, threshold: u64) -> Vec<Vec<Vec<bool>>> {
    let grids: Vec<Vec<Vec<u64>>> = tables.iter().map(Table::grid).collect();
    let mut forced: Vec<Vec<Vec<bool>>> =
        grids.iter().map(|grid| vec![vec![false; grid[0].len()]; grid.len()]).collect();
    loop {
        let masks: Vec<Vec<Vec<bool>>> =
            tables.iter().zip(&forced).map(|(table, forced)| mask_with(table, threshold, forced)).collect();
        let mut more: Vec<Entry> = Vec::new();
        for group in &links.equal {
            if group.iter().any(|&(t, r, c)| masks[t][r][c]) {
                more.extend(group.iter().copied().filter(|&(t, r, c)| !masks[t][r][c]));
            }
        }
        for &(part, whole) in &links.nested {
            for (r, line) in grids[part].iter().enumerate() {
                for (c, &count) in line.iter().enumerate() {
                    let left_out = grids[whole][r][c].saturating_sub(count);
                    if left_out > 0 && left_out < threshold && !masks[part][r][c] && !masks[whole][r][c] {
                        more.push((part, r, c));
                    }
                }
            }
        }
        if more.is_empty() {
            // Hidden entries the tables together give away: hide one more entry beside the first.
            let Some(&(t, r, c)) = recoverable(&grids, &masks, &links.equal).first() else {
                return masks;
            };
            let cost = |&(row, column): &(usize, usize)| {
                let grid = &grids[t];
                let inner = row + 1 < grid.len() && column + 1 < grid[0].len();
                (grid[row][column] == 0, !inner, grid[row][column])
            };
            let shown = |&(row, column): &(usize, usize)| !masks[t][row][column];
            let beside =
                (0..grids[t][0].len()).map(|column| (r, column)).chain((0..grids[t].len()).map(|row| (row, c)));
            let anywhere = (0..grids[t].len()).flat_map(|row| (0..grids[t][0].len()).map(move |column| (row, column)));
            match beside.filter(shown).min_by_key(cost).or_else(|| anywhere.filter(shown).min_by_key(cost)) {
                Some((row, column)) => more.push((t, row, column)),
                // Everything of that table is hidden: hide the smallest shown entry of any table.
                None => {
                    let pick = (0..grids.len())
                        .flat_map(|t| {
                            let grid = &grids[t];
                            (0..grid.len()).flat_map(move |row| (0..grid[0].len()).map(move |column| (t, row, column)))
                        })
                        .filter(|&(t, row, column)| !masks[t][row][column])
                        .min_by_key(|&(t, row, column)| (grids[t][row][column] == 0, grids[t][row][column]));
                    match pick {
                        Some(entry) => more.push(entry),
                        None => return masks,
                    }
                }
            }
        }
        for (t, r, c) in more {
            forced[t][r][c] = true;
        }
    }
}

/// The hidden entries (of `hide`, over `grids`) that can be worked out exactly from the shown
/// entries, each grid's row and column sums, and the entries `equal` ties together: those whose
/// unknown is the same in every solution of that system of equations (Gauss–Jordan
/// elimination: a pivot unknown whose row holds no free unknown is determined). Hidden entries
/// tied to a shown one are known.
pub fn recoverable(grids: &[Vec<Vec<u64>>], hide: &[Vec<Vec<bool>>], equal: &[Vec<Entry>]) -> Vec<Entry> {
    // One unknown per hidden entry, tied entries sharing theirs; `None`: known.
    let mut unknown: std::collections::BTreeMap<Entry, Option<usize>> = std::collections::BTreeMap::new();
    let mut count = 0;
    for group in equal {
        let known = group.iter().any(|&(t, r, c)| !hide[t][r][c]);
        let id = (!known).then(|| {
            count += 1;
            count - 1
        });
        for entry in group {
            unknown.insert(*entry, id);
        }
    }
    for (t, grid) in hide.iter().enumerate() {
        for (r, line) in grid.iter().enumerate() {
            for (c, &hidden) in line.iter().enumerate() {
                if hidden && !unknown.contains_key(&(t, r, c)) {
                    unknown.insert((t, r, c), Some(count));
                    count += 1;
                }
            }
        }
    }
    let id = |entry: Entry| if hide[entry.0][entry.1][entry.2] { unknown.get(&entry).copied().flatten() } else { None };
    // Each grid row and column: its inner entries minus its total entry equal what is shown.
    let mut equations: Vec<Vec<f64>> = Vec::new();
    for (t, grid) in grids.iter().enumerate() {
        let (rows, columns) = (grid.len(), grid[0].len());
        let lines = (0..rows)
            .map(|r| (0..columns).map(|c| ((t, r, c), c + 1 == columns)).collect::<Vec<_>>())
            .chain((0..columns).map(|c| (0..rows).map(|r| ((t, r, c), r + 1 == rows)).collect()));
        for line in lines {
            let mut equation = vec![0.0; count];
            for (entry, is_total) in line {
                if let Some(at) = id(entry) {
                    equation[at] += if is_total { -1.0 } else { 1.0 };
                }
            }
            if equation.iter().any(|value| *value != 0.0) {
                equations.push(equation);
            }
        }
    }
    let determined = determined_unknowns(equations, count);
    unknown
        .iter()
        .filter(|(entry, at)| hide[entry.0][entry.1][entry.2] && at.is_none_or(|at| determined[at]))
        .map(|(entry, _)| *entry)
        .collect()
}

/// For each unknown of a homogeneous system, whether it is 0 in every solution (so its value
/// in the inhomogeneous system is fixed by the right-hand side).
fn determined_unknowns(mut matrix: Vec<Vec<f64>>, unknowns: usize) -> Vec<bool> {
    const EPSILON: f64 = 1e-9;
    let mut pivots: Vec<(usize, usize)> = Vec::new();
    let mut rank = 0;
    for column in 0..unknowns {
        let Some(pivot) =
            (rank..matrix.len()).max_by(|&a, &b| matrix[a][column].abs().total_cmp(&matrix[b][column].abs()))
        else {
            break;
        };
        if matrix[pivot][column].abs() < EPSILON {
            continue;
        }
        matrix.swap(rank, pivot);
        let scale = matrix[rank][column];
        for value in &mut matrix[rank] {
            *value /= scale;
        }
        let pivot_row = matrix[rank].clone();
        for (at, row) in matrix.iter_mut().enumerate() {
            let factor = row[column];
            if at != rank && factor.abs() > EPSILON {
                for (value, pivot_value) in row.iter_mut().zip(&pivot_row) {
                    *value -= factor * pivot_value;
                }
            }
        }
        pivots.push((rank, column));
        rank += 1;
    }
    let is_pivot: Vec<bool> = {
        let mut flags = vec![false; unknowns];
        for &(_, column) in &pivots {
            flags[column] = true;
        }
        flags
    };
    let mut determined = vec![false; unknowns];
    for (row, column) in pivots {
        determined[column] = (0..unknowns).all(|other| is_pivot[other] || matrix[row][other].abs() < EPSILON);
    }
    determined
}

/// Tables as CSV: for each table its id and title, a header, its rows with their totals and a
/// total row, then an empty line. With `threshold`, small cells and their complements are
/// hidden (`<11`); without, the true counts are written. The tables are suppressed together,
/// untied ([`linked_tables_csv`] for tables that share totals).
pub fn tables_csv(tables: &[Table], threshold: Option<u64>) -> String {
    linked_tables_csv(tables, &Links::default(), threshold)
}

/// [`tables_csv`] for tables tied by `links`, suppressed together ([`suppress_together`]).
pub fn linked_tables_csv(tables: &[Table], links: &Links, threshold: Option<u64>) -> String {
    let masks = threshold.map(|threshold| suppress_together(tables, links, threshold));
    let mut out = String::new();
    for (index, table) in tables.iter().enumerate() {
        let grid: Vec<Vec<String>> = table
            .grid()
            .into_iter()
            .enumerate()
            .map(|(r, line)| {
                line.iter()
                    .enumerate()
                    .map(|(c, count)| match (&masks, threshold) {
                        (Some(masks), Some(threshold)) if masks[index][r][c] => Shown::Hidden(threshold).text(),
                        _ => count.to_string(),
                    })
                    .collect()
            })
            .collect();
        out.push_str(&csv_line(&[table.id.clone(), table.title.clone()]));
        let mut header = vec![table.row_header.clone()];
        header.extend(table.columns.iter().cloned());
        header.push("total".into());
        out.push_str(&csv_line(&header));
        for (index, line) in grid.into_iter().enumerate() {
            let mut fields = vec![table.rows.get(index).cloned().unwrap_or_else(|| "total".into())];
            fields.extend(line);
            out.push_str(&csv_line(&fields));
        }
        out.push('\n');
    }
    out
}

/// One CSV line, fields quoted when they hold a comma, a quote or a line break.
pub fn csv_line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|field| {
            if field.contains([',', '"', '\n']) { format!("\"{}\"", field.replace('"', "\"\"")) } else { field.clone() }
        })
        .collect();
    format!("{}\n", quoted.join(","))
}

/// The rows and columns reachable from a start through hidden entries.
struct Side {
    rows: Vec<bool>,
    columns: Vec<bool>,
}

fn reach(hide: &[Vec<bool>], start_row: Option<usize>, start_column: Option<usize>, skip: (usize, usize)) -> Side {
    let mut side = Side { rows: vec![false; hide.len()], columns: vec![false; hide[0].len()] };
    let mut stack: Vec<(bool, usize)> = Vec::new();
    if let Some(row) = start_row {
        side.rows[row] = true;
        stack.push((true, row));
    }
    if let Some(column) = start_column {
        side.columns[column] = true;
        stack.push((false, column));
    }
    while let Some((is_row, at)) = stack.pop() {
        if is_row {
            for (column, seen) in side.columns.iter_mut().enumerate() {
                if hide[at][column] && (at, column) != skip && !*seen {
                    *seen = true;
                    stack.push((false, column));
                }
            }
        } else {
            for (row, seen) in side.rows.iter_mut().enumerate() {
                if hide[row][at] && (row, at) != skip && !*seen {
                    *seen = true;
                    stack.push((true, row));
                }
            }
        }
    }
    side
}

/// The two components a hidden entry joins, without it: the row's, then the column's.
fn sides_without(hide: &[Vec<bool>], row: usize, column: usize) -> (Side, Side) {
    (reach(hide, Some(row), None, (row, column)), reach(hide, None, Some(column), (row, column)))
}

/// A hidden entry whose value the totals would give away (it lies on no cycle).
fn first_bridge(hide: &[Vec<bool>]) -> Option<(usize, usize)> {
    for (row, line) in hide.iter().enumerate() {
        for (column, &hidden) in line.iter().enumerate() {
            if hidden && !reach(hide, Some(row), None, (row, column)).columns[column] {
                return Some((row, column));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cells: Vec<Vec<u64>>) -> Table {
        Table {
            id: "t".into(),
            title: "t".into(),
            row_header: "r".into(),
            rows: (0..cells.len()).map(|row| row.to_string()).collect(),
            columns: (0..cells[0].len()).map(|column| column.to_string()).collect(),
            cells,
        }
    }

    fn shown(table: &Table) -> Vec<Vec<String>> {
        suppress(table, DEFAULT_THRESHOLD).into_iter().map(|line| line.into_iter().map(Shown::text).collect()).collect()
    }

    #[test]
    fn large_counts_are_shown_and_small_ones_hidden_with_a_complement() {
        assert_eq!(shown(&table(vec![vec![20, 30], vec![40, 50]]))[2], vec!["60", "80", "140"]);
        let published = shown(&table(vec![vec![3, 30], vec![40, 50]]));
        // 3 is hidden; its row and column each need a second hidden entry, closing a cycle.
        assert_eq!(published[0][0], "<11");
        assert_eq!(published[0][1], "<11");
        assert_eq!(published[1][0], "<11");
        assert_eq!(published[1][1], "<11");
        assert_eq!(published[2], vec!["43", "80", "123"]);
    }

    #[test]
    fn an_entry_tied_to_a_shown_one_gives_its_cycle_away() {
        let grid = table(vec![vec![3, 30], vec![40, 50]]).grid();
        let mut inner = vec![vec![false; 3]; 3];
        for (row, column) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            inner[row][column] = true;
        }
        let grids = vec![grid.clone(), grid];
        // Each table alone: a cycle of four hidden counts, nothing solved.
        assert_eq!(recoverable(&grids, &[inner.clone(), inner.clone()], &[]), []);
        // The first table's corner tied to the second's: still one unknown, nothing solved.
        let tie = vec![vec![(0, 0, 0), (1, 0, 0)]];
        assert_eq!(recoverable(&grids, &[inner.clone(), inner.clone()], &tie), []);
        // Tied to a count the second table shows, the corner is known and its whole cycle with
        // it (and the second table's three left, on a cycle broken by that shown count).
        let mut shown_corner = inner.clone();
        shown_corner[0][0] = false;
        let given_away = [(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0), (1, 1, 1)];
        assert_eq!(recoverable(&grids, &[inner.clone(), shown_corner.clone()], &tie), given_away);
        assert_eq!(recoverable(&grids, &[inner, shown_corner], &[]), [(1, 0, 1), (1, 1, 0), (1, 1, 1)]);
    }

    #[test]
    fn two_cycles_joined_by_one_hidden_entry_get_another_link() {
        // Hidden entries forming two separate cycles joined by a bridge would let the bridge be solved.
        let mut hide = vec![vec![false; 5]; 5];
        for (row, column) in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (1, 2)] {
            hide[row][column] = true;
        }
        assert_eq!(first_bridge(&hide), Some((1, 2)));
    }
}
