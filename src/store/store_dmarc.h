/* store_dmarc: the SQL that turns the dmarc_reports rows (one per
 * DMARC-evaluated message, store_dmarc_report_add in store_sql.c,
 * schema 4 -> 5) into aggregate reports (authn/dmarc_report.c): the
 * policy domains with rows, the rows of one domain grouped as a report's
 * records, the deletion of the rows a queued report covered, and the
 * hourly prune of rows past [authn] dmarc_report_retention. */
#ifndef MOAT_STORE_DMARC_H
#define MOAT_STORE_DMARC_H

#include <stdint.h>
#include <time.h>

#include "store.h"

#define STORE_DMARC_DOMAINS_MAX	10000	/* policy domains in one run */
#define STORE_DMARC_GROUPS_MAX	10000	/* records in one report */
#define STORE_DMARC_GROUP_KEY	10	/* columns a record tells apart */

/* Delete the rows older than before; *n_r how many. 0 or -1. */
int store_dmarc_prune(struct store *st, time_t before, uint64_t *n_r);

/* The policy domains (lower case, distinct, sorted) that have rows
 * with time < end, to cb as one column; domain non-NULL: only that one.
 * At most STORE_DMARC_DOMAINS_MAX. 0 or -1. */
int store_dmarc_domains(struct store *st, time_t end, const char *domain,
    store_row_cb *cb, void *ctx);

/* The rows of policy domain with time < end and id <= max_id, grouped
 * by what a report's record tells apart, to cb as columns: the group
 * key (STORE_DMARC_GROUP_KEY columns: source_ip, header_from,
 * envelope_from, disposition, dkim_aligned ("1"/"0"), spf_aligned,
 * dkim, dkim_domain, spf, spf_domain), then count, min time, max time
 * (unix seconds), max id. The first limit groups in key order
 * (STORE_DMARC_GROUPS_MAX in a report). 0 or -1. */
int store_dmarc_groups(struct store *st, const char *domain, time_t end,
    int64_t max_id, unsigned limit, store_row_cb *cb, void *ctx);

/* The highest row id now (0: none): rows inserted later are not part of
 * a report being built. 0 or -1. */
int store_dmarc_max_id(struct store *st, int64_t *id_r);

/* Delete the rows of domain with time < end and id <= max_id (a report
 * with them is queued); last non-NULL (the key columns of the last group
 * of a report store_dmarc_groups' limit cut short): only the rows of
 * the groups up to that one, the others are not reported yet. *n_r how
 * many. 0 or -1. */
int store_dmarc_delete(struct store *st, const char *domain, time_t end,
    int64_t max_id, const char *const *last, uint64_t *n_r);

#endif
