//! `ApplicationRegistry`: a single Durable Object listing every application, for the
//! operator API. Key data lives in each application's own key ring, not here.

use aero2_keys::http::ErrorCode;
use serde::Deserialize;
use worker::{
    console_error, durable_object, DurableObject, Env, Request, Response, Result, SqlStorage,
    SqlStorageValue, State,
};

use crate::errors::{ApiError, ApiResult};
use crate::protocol::{ApplicationInfo, RegistryCommand};
use crate::views::{json_response, ApplicationList, ApplicationView, Empty};

#[durable_object]
pub struct ApplicationRegistry {
    sql: SqlStorage,
}

#[derive(Deserialize)]
struct InfoRow {
    info: String,
}

impl DurableObject for ApplicationRegistry {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        if let Err(err) = sql.exec(
            "CREATE TABLE IF NOT EXISTS applications (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, info TEXT NOT NULL)",
            None,
        ) {
            console_error!("registry schema could not be created: {err}");
        }
        ApplicationRegistry { sql }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let response = match crate::protocol::read_command::<RegistryCommand>(&mut req).await {
            Ok(command) => self.handle(command),
            Err(_) => Err(ApiError::with_detail(
                ErrorCode::InvalidRequest,
                "unreadable command",
            )),
        };
        Ok(response.unwrap_or_else(ApiError::into_response))
    }
}

impl ApplicationRegistry {
    fn handle(&self, command: RegistryCommand) -> ApiResult<Response> {
        match command {
            RegistryCommand::Register { application } => {
                let info = serde_json::to_string(&application)
                    .map_err(|_| ErrorCode::TemporarilyUnavailable)?;
                self.sql.exec(
                    "INSERT INTO applications (id, info) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                    vec![
                        SqlStorageValue::String(application.id.to_string()),
                        SqlStorageValue::String(info),
                    ],
                )?;
                Ok(json_response(201, &Empty {}))
            }
            RegistryCommand::List => {
                let rows: Vec<InfoRow> = self
                    .sql
                    .exec("SELECT info FROM applications ORDER BY seq DESC", None)?
                    .to_array()?;
                let applications: Vec<ApplicationInfo> = rows
                    .iter()
                    .filter_map(|row| serde_json::from_str(&row.info).ok())
                    .collect();
                let applications = applications.iter().map(ApplicationView::of).collect();
                Ok(json_response(200, &ApplicationList { applications }))
            }
        }
    }
}
