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
    let (rows, columns) = (grid.len(), grid[0].len());
    let mut hide: Vec<Vec<bool>> =
        grid.iter().map(|line| line.iter().map(|&count| count > 0 && count < threshold).collect()).collect();
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

/// Tables as CSV: for each table its id and title, a header, its rows with their totals and a
/// total row, then an empty line. With `threshold`, small cells and their complements are
/// hidden (`<11`); without, the true counts are written.
pub fn tables_csv(tables: &[Table], threshold: Option<u64>) -> String {
    let mut out = String::new();
    for table in tables {
        let grid: Vec<Vec<String>> = match threshold {
            Some(threshold) => {
                suppress(table, threshold).into_iter().map(|line| line.into_iter().map(Shown::text).collect()).collect()
            }
            None => table.grid().into_iter().map(|line| line.iter().map(u64::to_string).collect()).collect(),
        };
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
    fn two_cycles_joined_by_one_hidden_entry_get_another_link() {
        // Hidden entries forming two separate cycles joined by a bridge would let the bridge be solved.
        let mut hide = vec![vec![false; 5]; 5];
        for (row, column) in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (1, 2)] {
            hide[row][column] = true;
        }
        assert_eq!(first_bridge(&hide), Some((1, 2)));
    }
}
