//! Human output as Nomad's CLI prints it: tables with columns separated by
//! two spaces, and `key = value` blocks with the `=` aligned.

/// A table: a header row, then one row per item; every column but the last
/// is padded to its widest cell. Rows shorter than the header leave cells
/// empty.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|cell| width(cell)).collect();
    for row in rows {
        for (column, cell) in row.iter().enumerate().take(widths.len()) {
            widths[column] = widths[column].max(width(cell));
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = header.iter().map(|cell| (*cell).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let cells: Vec<&str> = (0..widths.len()).map(|column| row.get(column).map_or("", String::as_str)).collect();
        push_row(&mut out, &cells, &widths);
    }
    out
}

/// `key = value` lines with the `=` signs aligned.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let key_width = pairs.iter().map(|(key, _)| width(key)).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value) in pairs {
        let padding = " ".repeat(key_width - width(key));
        out.push_str(&format!("{key}{padding} = {value}\n"));
    }
    out
}

fn push_row(out: &mut String, cells: &[&str], widths: &[usize]) {
    let last = cells.len().saturating_sub(1);
    let mut line = String::new();
    for (column, cell) in cells.iter().enumerate() {
        line.push_str(cell);
        if column < last {
            line.push_str(&" ".repeat(widths[column] - width(cell) + 2));
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// The first eight characters of an ID, as Nomad's tables show it.
pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn width(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|cell| (*cell).to_owned()).collect()
    }

    #[test]
    fn columns_are_padded_to_the_widest_cell() {
        let rendered = table(
            &["Node", "ID", "Voter"],
            &[row(&["one.global", "a1", "true"]), row(&["two.global", "b22222", "false"])],
        );
        assert_eq!(
            rendered,
            "Node        ID      Voter\n\
             one.global  a1      true\n\
             two.global  b22222  false\n"
        );
    }

    #[test]
    fn short_rows_and_empty_tables_render() {
        assert_eq!(table(&["A", "B"], &[]), "A  B\n");
        assert_eq!(table(&["A", "B"], &[row(&["x"])]), "A  B\nx\n");
        assert_eq!(table(&["Name"], &[row(&["café"])]), "Name\ncafé\n");
    }

    #[test]
    fn key_values_align_the_equals_signs() {
        let rendered = key_values(&[("ID", "3-42-0".to_owned()), ("Keel Version", "0.1.0".to_owned())]);
        assert_eq!(rendered, "ID           = 3-42-0\nKeel Version = 0.1.0\n");
        assert_eq!(key_values(&[]), "");
    }
}
