//! One result shape, three encodings: a [`Table`] of typed columns becomes JSON (`{"data":
//! [...], "next_cursor": ...}`), CSV (a header row, then rows) or an Arrow IPC stream
//! (`application/vnd.apache.arrow.stream`), so every endpoint answers all three alike.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::params::{ARROW_STREAM, Format};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    UInt,
    Float,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Int(Option<i64>),
    UInt(u64),
    Float(Option<f64>),
}

impl From<String> for Cell {
    fn from(v: String) -> Self {
        Cell::Text(v)
    }
}
impl From<&str> for Cell {
    fn from(v: &str) -> Self {
        Cell::Text(v.to_owned())
    }
}
impl From<u64> for Cell {
    fn from(v: u64) -> Self {
        Cell::UInt(v)
    }
}
impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(Some(v))
    }
}
impl From<Option<i64>> for Cell {
    fn from(v: Option<i64>) -> Self {
        Cell::Int(v)
    }
}
impl From<f64> for Cell {
    fn from(v: f64) -> Self {
        Cell::Float(Some(v))
    }
}
impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Self {
        Cell::Float(v)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Table {
    pub columns: Vec<(&'static str, Kind)>,
    pub rows: Vec<Vec<Cell>>,
    /// For lists: where the next page starts, when there is one.
    pub next_cursor: Option<String>,
}

impl Table {
    pub fn new(columns: &[(&'static str, Kind)]) -> Self {
        Self { columns: columns.to_vec(), rows: Vec::new(), next_cursor: None }
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    pub fn render(self, format: Format) -> Result<Response, ApiError> {
        match format {
            Format::Json => Ok(self.json()),
            Format::Csv => self.csv(),
            Format::Arrow => self.arrow(),
        }
    }

    fn json(self) -> Response {
        let data: Vec<Value> = self
            .rows
            .into_iter()
            .map(|row| {
                let mut obj = Map::new();
                for ((name, _), cell) in self.columns.iter().zip(row) {
                    obj.insert((*name).to_owned(), json_of(cell));
                }
                Value::Object(obj)
            })
            .collect();
        let mut body = Map::new();
        body.insert("data".into(), Value::Array(data));
        body.insert("next_cursor".into(), self.next_cursor.map(Value::String).unwrap_or(Value::Null));
        axum::Json(Value::Object(body)).into_response()
    }

    fn csv(self) -> Result<Response, ApiError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let internal = |e: csv::Error| ApiError::Internal(format!("CSV: {e}"));
        w.write_record(self.columns.iter().map(|c| c.0)).map_err(internal)?;
        for row in &self.rows {
            w.write_record(row.iter().map(text_of)).map_err(internal)?;
        }
        let body = w.into_inner().map_err(|e| ApiError::Internal(format!("CSV: {e}")))?;
        let mut resp = (StatusCode::OK, body).into_response();
        resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        if let Some(c) = self.next_cursor.and_then(|c| HeaderValue::from_str(&c).ok()) {
            resp.headers_mut().insert("x-next-cursor", c);
        }
        Ok(resp)
    }

    fn arrow(self) -> Result<Response, ApiError> {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|(name, kind)| match kind {
                Kind::Text => Field::new(*name, DataType::Utf8, false),
                Kind::Int => Field::new(*name, DataType::Int64, true),
                Kind::UInt => Field::new(*name, DataType::UInt64, false),
                Kind::Float => Field::new(*name, DataType::Float64, true),
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| -> ArrayRef {
                let col = self.rows.iter().map(|r| &r[i]);
                match kind {
                    Kind::Text => Arc::new(StringArray::from_iter_values(col.map(|c| text_of(c)))),
                    Kind::Int => Arc::new(Int64Array::from_iter(col.map(|c| match c {
                        Cell::Int(v) => *v,
                        _ => None,
                    }))),
                    Kind::UInt => Arc::new(UInt64Array::from_iter_values(col.map(|c| match c {
                        Cell::UInt(v) => *v,
                        _ => 0,
                    }))),
                    Kind::Float => Arc::new(Float64Array::from_iter(col.map(|c| match c {
                        Cell::Float(v) => *v,
                        _ => None,
                    }))),
                }
            })
            .collect();
        let internal = |e: arrow_schema::ArrowError| ApiError::Internal(format!("Arrow: {e}"));
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(internal)?;
        let mut w = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &schema).map_err(internal)?;
        w.write(&batch).map_err(internal)?;
        let body = w.into_inner().map_err(internal)?;
        let mut resp = (StatusCode::OK, body).into_response();
        resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(ARROW_STREAM));
        if let Some(c) = self.next_cursor.and_then(|c| HeaderValue::from_str(&c).ok()) {
            resp.headers_mut().insert("x-next-cursor", c);
        }
        Ok(resp)
    }
}

fn json_of(cell: Cell) -> Value {
    match cell {
        Cell::Text(s) => Value::String(s),
        Cell::Int(v) => v.map(Value::from).unwrap_or(Value::Null),
        Cell::UInt(v) => Value::from(v),
        Cell::Float(v) => v.and_then(serde_json::Number::from_f64).map(Value::Number).unwrap_or(Value::Null),
    }
}

fn text_of(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Int(v) => v.map(|v| v.to_string()).unwrap_or_default(),
        Cell::UInt(v) => v.to_string(),
        Cell::Float(v) => v.map(|v| v.to_string()).unwrap_or_default(),
    }
}
