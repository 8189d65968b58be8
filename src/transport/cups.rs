//! The ward's printers, through the local CUPS over IPP (issue 15): whether a queue
//! exists and takes jobs, printing one PDF with a title, and finding a job by its title
//! (a job a crash caught mid-submission is looked for before it is sent again).
//!
//! The `ipp` crate's blocking client (plain HTTP to CUPS; call it from a blocking
//! thread), not `lp`: its answers are IPP attributes, not text in the machine's locale,
//! and a job can be found by its title. The server is `CUPS_SERVER` (`host:port`, as
//! for `lp`), else `localhost:631`.
//!
//! Owns nothing but the protocol: what a job is for, and when to retry, are the
//! daemon's.

use ipp::model::{DelimiterTag, IppVersion, Operation};
use ipp::operation::IppOperation;
use ipp::prelude::*;
use ipp::value::BoundedString;
use std::time::Duration;

/// How long one IPP request may take (a 250-page sheet is ~5 MB over loopback).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The CUPS server qrca prints through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cups {
    /// `host:port`.
    server: String,
}

/// What a queue says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterState {
    /// `printer-state` 5: stopped (`cupsdisable`); jobs wait in it.
    pub stopped: bool,
    /// `printer-is-accepting-jobs` (`cupsreject` makes it false).
    pub accepting: bool,
    /// `printer-state-reasons`, as CUPS words them.
    pub reasons: String,
}

/// Why a printer did not take a job.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("CUPS at {server} cannot be reached: {detail}")]
    Unreachable { server: String, detail: String },
    #[error("there is no printer {printer} at CUPS {server} (`lpstat -p` lists them)")]
    NotFound { server: String, printer: String },
    #[error("printer {printer} is stopped ({reasons}); `cupsenable {printer}` starts it")]
    Stopped { printer: String, reasons: String },
    #[error("printer {printer} does not accept jobs; `cupsaccept {printer}` opens it")]
    NotAccepting { printer: String },
    #[error("CUPS refused the request on printer {printer}: {status}")]
    Refused { printer: String, status: String },
}

impl Default for Cups {
    fn default() -> Self {
        Cups::from_env()
    }
}

impl Cups {
    /// `CUPS_SERVER` when it names a `host[:port]`, else `localhost:631`.
    pub fn from_env() -> Cups {
        let server = std::env::var("CUPS_SERVER")
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty() && !s.starts_with('/'))
            .map_or_else(
                || "localhost:631".to_owned(),
                |s| {
                    if s.contains(':') {
                        s
                    } else {
                        format!("{s}:631")
                    }
                },
            );
        Cups { server }
    }

    /// The CUPS at `server` (`host:port`).
    pub fn at(server: &str) -> Cups {
        Cups {
            server: server.to_owned(),
        }
    }

    /// The server, `host:port`.
    pub fn server(&self) -> &str {
        &self.server
    }

    fn uri(&self, printer: &str) -> Result<Uri, PrintError> {
        format!("http://{}/printers/{printer}", self.server)
            .parse()
            .map_err(|e| PrintError::NotFound {
                server: self.server.clone(),
                printer: format!("{printer} ({e})"),
            })
    }

    fn send(
        &self,
        printer: &str,
        uri: Uri,
        request: IppRequestResponse,
    ) -> Result<IppRequestResponse, PrintError> {
        let client = IppClient::builder(uri)
            .request_timeout(REQUEST_TIMEOUT)
            .build();
        let response = client.send(request).map_err(|e| PrintError::Unreachable {
            server: self.server.clone(),
            detail: e.to_string(),
        })?;
        let status = response.header().status_code();
        if status.is_success() {
            return Ok(response);
        }
        if format!("{status:?}").contains("NotFound") {
            return Err(PrintError::NotFound {
                server: self.server.clone(),
                printer: printer.to_owned(),
            });
        }
        Err(PrintError::Refused {
            printer: printer.to_owned(),
            status: format!("{status:?}"),
        })
    }

    /// Whether `printer` exists, and whether it is stopped or refuses jobs.
    pub fn state(&self, printer: &str) -> Result<PrinterState, PrintError> {
        let uri = self.uri(printer)?;
        let request = IppOperationBuilder::get_printer_attributes(uri.clone())
            .attributes([
                "printer-state",
                "printer-is-accepting-jobs",
                "printer-state-reasons",
            ])
            .build()
            .map_err(|e| self.refused(printer, &e))?;
        let response = self.send(printer, uri, request.into_ipp_request())?;
        let attrs = response.attributes();
        let get = |name: &str| {
            attrs
                .groups_of(DelimiterTag::PrinterAttributes)
                .find_map(|g| g.get(name))
                .map(|a| a.value().clone())
        };
        Ok(PrinterState {
            stopped: matches!(get("printer-state"), Some(IppValue::Enum(5))),
            accepting: !matches!(
                get("printer-is-accepting-jobs"),
                Some(IppValue::Boolean(false))
            ),
            reasons: get("printer-state-reasons").map_or_else(String::new, |v| v.to_string()),
        })
    }

    /// Checks that `printer` takes jobs now: it exists, is not stopped, accepts.
    pub fn ready(&self, printer: &str) -> Result<(), PrintError> {
        let state = self.state(printer)?;
        if state.stopped {
            return Err(PrintError::Stopped {
                printer: printer.to_owned(),
                reasons: state.reasons,
            });
        }
        if !state.accepting {
            return Err(PrintError::NotAccepting {
                printer: printer.to_owned(),
            });
        }
        Ok(())
    }

    /// Prints one PDF on `printer` under `title`; the job's id at CUPS once it took it.
    pub fn print(&self, printer: &str, title: &str, pdf: Vec<u8>) -> Result<i32, PrintError> {
        let uri = self.uri(printer)?;
        let payload = IppPayload::new(std::io::Cursor::new(pdf));
        let request = IppOperationBuilder::print_job(uri.clone(), payload)
            .job_title(title)
            .user_name("qrca")
            .document_format("application/pdf")
            .build()
            .map_err(|e| self.refused(printer, &e))?;
        let response = self.send(printer, uri, request.into_ipp_request())?;
        response
            .attributes()
            .groups_of(DelimiterTag::JobAttributes)
            .find_map(|g| g.get("job-id"))
            .and_then(|a| match a.value() {
                IppValue::Integer(id) => Some(*id),
                _ => None,
            })
            .ok_or_else(|| PrintError::Refused {
                printer: printer.to_owned(),
                status: "the answer has no job-id".to_owned(),
            })
    }

    /// The id of a job on `printer` titled `title`, finished or not, if CUPS has one.
    pub fn find_job(&self, printer: &str, title: &str) -> Result<Option<i32>, PrintError> {
        let uri = self.uri(printer)?;
        let mut request =
            IppRequestResponse::new(IppVersion::v1_1(), Operation::GetJobs, Some(uri.clone()))
                .map_err(|e| self.refused(printer, &e))?;
        let bounded = |k: &str| BoundedString::new_truncated(k);
        let attrs = request.attributes_mut();
        attrs.add(
            DelimiterTag::OperationAttributes,
            IppAttribute::with_name(
                "requesting-user-name",
                IppValue::NameWithoutLanguage(bounded("qrca")),
            )
            .map_err(|e| self.refused(printer, &e))?,
        );
        attrs.add(
            DelimiterTag::OperationAttributes,
            IppAttribute::with_name("which-jobs", IppValue::Keyword(bounded("all")))
                .map_err(|e| self.refused(printer, &e))?,
        );
        attrs.add(
            DelimiterTag::OperationAttributes,
            IppAttribute::with_name(
                "requested-attributes",
                IppValue::Array(vec![
                    IppValue::Keyword(bounded("job-id")),
                    IppValue::Keyword(bounded("job-name")),
                ]),
            )
            .map_err(|e| self.refused(printer, &e))?,
        );
        let response = self.send(printer, uri, request)?;
        Ok(response
            .attributes()
            .groups_of(DelimiterTag::JobAttributes)
            .filter(|g| {
                g.get("job-name")
                    .is_some_and(|n| n.value().to_string() == title)
            })
            .find_map(|g| match g.get("job-id").map(|a| a.value()) {
                Some(IppValue::Integer(id)) => Some(*id),
                _ => None,
            }))
    }

    fn refused(&self, printer: &str, e: &dyn std::fmt::Display) -> PrintError {
        PrintError::Refused {
            printer: printer.to_owned(),
            status: e.to_string(),
        }
    }
}
