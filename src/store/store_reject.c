/* store_reject: the SQL of the rejected-session log and of the decision
 * traces behind the references quoted in refusals (tables rejected and
 * traces, schema 1 and 6). Rows are written from libuv's thread pool
 * (reject_log.c), read by moatctl log, and pruned by the queue runner
 * after [log] rejected_retention. */
#include "store.h"
#include "store_int.h"

#include <string.h>

#define ISO_TIME(col) "strftime('%Y-%m-%dT%H:%M:%SZ', " col ", 'unixepoch')"
#define TRACE_TEXT_MAX	16384

enum {
	SQL_INSERT = STORE_EXT_REJECT,
	SQL_LIST,
	SQL_TRACE_PUT,
	SQL_TRACE_GET,
	SQL_BY_REF,
	SQL_PRUNE_LOG,
	SQL_PRUNE_TRACES,
};

#define REJECT_COLUMNS							\
	ISO_TIME("time") ", service, ip, rdns, session, helo, mail_from,"\
	" rcpt_to, code, rule, reason, ref,"				\
	" CASE shadow WHEN 0 THEN '' ELSE 'shadow' END FROM rejected"

static const char sql_insert[] =
    "INSERT INTO rejected (time, session, service, ip, rdns, helo,"
    " mail_from, rcpt_to, code, rule, reason, ref, shadow)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
/* ?1 since, ?2 ip or NULL, ?3 rule substring or NULL, ?4 limit */
static const char sql_list[] =
    "SELECT " REJECT_COLUMNS
    " WHERE time >= ?1 AND (?2 IS NULL OR ip = ?2)"
    " AND (?3 IS NULL OR instr(lower(rule), lower(?3)) > 0)"
    " ORDER BY id DESC LIMIT ?4";
static const char sql_trace_put[] =
    "INSERT OR REPLACE INTO traces (ref, session, time, trace)"
    " VALUES (?1, ?2, ?3, ?4)";
static const char sql_trace_get[] =
    "SELECT 'trace', " ISO_TIME("time") ", session, trace FROM traces"
    " WHERE ref = ?1";
static const char sql_by_ref[] =
    "SELECT " REJECT_COLUMNS " WHERE ref = ?1 ORDER BY id";
static const char sql_prune_log[] = "DELETE FROM rejected WHERE time < ?1";
static const char sql_prune_traces[] = "DELETE FROM traces WHERE time < ?1";

static int
fail(struct store *st, sqlite3_stmt *s)
{
	(void)store_db_error(st, "rejected log");
	if (s != NULL)
		store_stmt_done(s);
	return -1;
}

int
store_reject_log(struct store *st, const struct store_reject *rej)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_INSERT, sql_insert);
	const char *v[] = { rej->session, rej->service, rej->ip, rej->rdns,
	    rej->helo, rej->mail_from, rej->rcpt_to };
	size_t i;

	if (s == NULL || store_bind_int(s, 1, (int64_t)rej->time) < 0)
		return fail(st, s);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (store_bind_textn(s, (int)i + 2, v[i],
		    STORE_REJECT_FIELD_MAX) < 0)
			return fail(st, s);
	if (store_bind_int(s, 9, rej->code) < 0 ||
	    store_bind_textn(s, 10, rej->rule, STORE_REJECT_FIELD_MAX) < 0 ||
	    store_bind_textn(s, 11, rej->reason, STORE_REJECT_FIELD_MAX) < 0 ||
	    store_bind_textn(s, 12, rej->ref, STORE_REJECT_FIELD_MAX) < 0 ||
	    store_bind_int(s, 13, rej->shadow ? 1 : 0) < 0 ||
	    store_stmt_exec(s) != 0)
		return fail(st, s);
	return 0;
}

int
store_trace_put(struct store *st, const char *ref, const char *session,
    time_t when, const char *trace)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_TRACE_PUT, sql_trace_put);

	if (s == NULL ||
	    store_bind_textn(s, 1, ref, STORE_REJECT_FIELD_MAX) < 0 ||
	    store_bind_textn(s, 2, session, STORE_REJECT_FIELD_MAX) < 0 ||
	    store_bind_int(s, 3, (int64_t)when) < 0 ||
	    store_bind_textn(s, 4, trace, TRACE_TEXT_MAX) < 0 ||
	    store_stmt_exec(s) != 0)
		return fail(st, s);
	return 0;
}

int
store_reject_prune(struct store *st, time_t before)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_PRUNE_LOG, sql_prune_log);

	if (s == NULL || store_bind_int(s, 1, (int64_t)before) < 0 ||
	    store_stmt_exec(s) != 0)
		return fail(st, s);
	s = store_ext_stmt(st, SQL_PRUNE_TRACES, sql_prune_traces);
	if (s == NULL || store_bind_int(s, 1, (int64_t)before) < 0 ||
	    store_stmt_exec(s) != 0)
		return fail(st, s);
	return 0;
}

int
store_reject_list(struct store *st, const struct store_reject_query *q,
    store_row_cb *cb, void *ctx)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_LIST, sql_list);

	if (s == NULL || store_bind_int(s, 1, (int64_t)q->since) < 0 ||
	    store_bind_text(s, 2, q->ip) < 0 ||	/* NULL: every ip */
	    store_bind_text(s, 3, q->rule) < 0 ||
	    store_bind_int(s, 4, (int64_t)q->limit) < 0)
		return fail(st, s);
	return store_stmt_rows(st, s, cb, ctx);
}

struct show_ctx {
	store_row_cb	*cb;
	void		*ctx;
	bool		 found;
};

static void
show_row(void *ctx, const char *const *cols, int ncols)
{
	struct show_ctx *sc = ctx;

	sc->found = true;
	sc->cb(sc->ctx, cols, ncols);
}

int
store_reject_show(struct store *st, const char *ref, store_row_cb *cb,
    void *ctx, bool *found_r)
{
	struct show_ctx sc = { cb, ctx, false };
	sqlite3_stmt *s = store_ext_stmt(st, SQL_TRACE_GET, sql_trace_get);

	*found_r = false;
	if (s == NULL || store_bind_text(s, 1, ref) < 0)
		return fail(st, s);
	if (store_stmt_rows(st, s, show_row, &sc) < 0)
		return -1;
	s = store_ext_stmt(st, SQL_BY_REF, sql_by_ref);
	if (s == NULL || store_bind_text(s, 1, ref) < 0)
		return fail(st, s);
	if (store_stmt_rows(st, s, show_row, &sc) < 0)
		return -1;
	*found_r = sc.found;
	return 0;
}
