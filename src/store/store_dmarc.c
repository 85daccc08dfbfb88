/* store_dmarc: the SQL of DMARC aggregate reports over the dmarc_reports
 * table (see store_dmarc.h). */
#include "store_dmarc.h"

#include <stdlib.h>
#include <string.h>

#include "store_int.h"

enum {
	SQL_PRUNE = STORE_EXT_DMARC,
	SQL_DOMAINS,
	SQL_GROUPS,
	SQL_MAX_ID,
	SQL_DELETE,
};

static const char sql_prune[] = "DELETE FROM dmarc_reports WHERE time < ?1";
/* ?1 end, ?2 domain or NULL, ?3 limit. Rows without a policy domain
 * (no DMARC record) have nobody to report to: only the prune ends them. */
static const char sql_domains[] =
    "SELECT DISTINCT lower(policy_domain) FROM dmarc_reports"
    " WHERE time < ?1 AND policy_domain IS NOT NULL AND policy_domain <> ''"
    " AND (?2 IS NULL OR policy_domain = ?2)"
    " ORDER BY 1 LIMIT ?3";
/* The columns a report's record tells apart: the group key of
 * sql_groups, and what sql_delete compares with the last group reported. */
#define GROUP_KEY \
    "source_ip, lower(header_from), lower(ifnull(envelope_from, ''))," \
    " disposition, dkim_aligned, spf_aligned, ifnull(dkim, 'none')," \
    " lower(ifnull(dkim_domain, '')), ifnull(spf, 'none')," \
    " lower(ifnull(spf_domain, ''))"
/* ?1 domain, ?2 end, ?3 max id, ?4 limit */
static const char sql_groups[] =
    "SELECT " GROUP_KEY ", count(*), min(time), max(time),"
    " max(id) FROM dmarc_reports"
    " WHERE policy_domain = ?1 AND time < ?2 AND id <= ?3"
    " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ORDER BY 1, 2, 3, 4, 5, 6,"
    " 7, 8, 9, 10 LIMIT ?4";
static const char sql_max_id[] = "SELECT ifnull(max(id), 0) FROM dmarc_reports";
/* ?1 domain, ?2 end, ?3 max id; ?4..?13 NULL, or the key of the last
 * group a report limited to the first groups (in sql_groups' order)
 * had: only the rows of the groups up to it go. The same expressions
 * and BINARY comparison as that ORDER BY (lower() drops NOCASE). */
static const char sql_delete[] =
    "DELETE FROM dmarc_reports WHERE policy_domain = ?1 AND time < ?2"
    " AND id <= ?3 AND (?4 IS NULL OR (" GROUP_KEY ") <="
    " (?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13))";

static int
fail(struct store *st, sqlite3_stmt *s)
{
	(void)store_db_error(st, "dmarc reports");
	if (s != NULL)
		store_stmt_done(s);
	return -1;
}

int
store_dmarc_prune(struct store *st, time_t before, uint64_t *n_r)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_PRUNE, sql_prune);

	*n_r = 0;
	if (s == NULL || store_bind_int(s, 1, (int64_t)before) < 0 ||
	    store_stmt_exec(s) != 0)
		return fail(st, s);
	*n_r = (uint64_t)sqlite3_changes(store_sqlite(st));
	return 0;
}

int
store_dmarc_domains(struct store *st, time_t end, const char *domain,
    store_row_cb *cb, void *ctx)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_DOMAINS, sql_domains);

	if (s == NULL || store_bind_int(s, 1, (int64_t)end) < 0 ||
	    store_bind_text(s, 2, domain) < 0 ||
	    store_bind_int(s, 3, STORE_DMARC_DOMAINS_MAX) < 0)
		return fail(st, s);
	return store_stmt_rows(st, s, cb, ctx);
}

int
store_dmarc_groups(struct store *st, const char *domain, time_t end,
    int64_t max_id, unsigned limit, store_row_cb *cb, void *ctx)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_GROUPS, sql_groups);

	if (s == NULL || store_bind_text(s, 1, domain) < 0 ||
	    store_bind_int(s, 2, (int64_t)end) < 0 ||
	    store_bind_int(s, 3, max_id) < 0 ||
	    store_bind_int(s, 4, (int64_t)limit) < 0)
		return fail(st, s);
	return store_stmt_rows(st, s, cb, ctx);
}

static void
max_id_row(void *ctx, const char *const *cols, int ncols)
{
	int64_t *id = ctx;

	if (ncols >= 1 && cols[0] != NULL)
		*id = strtoll(cols[0], NULL, 10);
}

int
store_dmarc_max_id(struct store *st, int64_t *id_r)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_MAX_ID, sql_max_id);

	*id_r = 0;
	if (s == NULL)
		return fail(st, s);
	return store_stmt_rows(st, s, max_id_row, id_r);
}

int
store_dmarc_delete(struct store *st, const char *domain, time_t end,
    int64_t max_id, const char *const *last, uint64_t *n_r)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_DELETE, sql_delete);
	int i, bad = 0;

	*n_r = 0;
	if (s == NULL || store_bind_text(s, 1, domain) < 0 ||
	    store_bind_int(s, 2, (int64_t)end) < 0 ||
	    store_bind_int(s, 3, max_id) < 0)
		return fail(st, s);
	for (i = 0; i < STORE_DMARC_GROUP_KEY && !bad; i++) {
		/* The aligned flags (key columns 4, 5) are integers, as
		 * sql_groups sorted them. */
		if (last != NULL && (i == 4 || i == 5))
			bad = store_bind_int(s, 4 + i,
			    strtoll(last[i], NULL, 10)) < 0;
		else
			bad = store_bind_text(s, 4 + i,
			    last != NULL ? last[i] : NULL) < 0;
	}
	if (bad || store_stmt_exec(s) != 0)
		return fail(st, s);
	*n_r = (uint64_t)sqlite3_changes(store_sqlite(st));
	return 0;
}
