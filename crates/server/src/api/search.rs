//! Search across everything the caller may read, over `crate::app::search`.

use axum::Json;
use serde::Deserialize;

use crate::app::Ctx;
use crate::app::search::{self, SearchResults};
use crate::error::{ApiError, ApiQuery};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The words to find: 1 to 8 of two or more letters or digits.
    q: String,
}

/// Finds words in matters, notes and documents the caller may read. The blind index
/// proposes candidates; each candidate's matter goes through the access check before
/// anything of it is read.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "search",
    params(SearchQuery),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "What was found", body = SearchResults),
        (status = 400, response = crate::openapi::BadRequest),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn search(
    ctx: Ctx,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<SearchResults>, ApiError> {
    Ok(Json(search::search(&ctx, &query.q).await?))
}
