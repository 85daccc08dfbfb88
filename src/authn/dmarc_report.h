/* dmarc_report: DMARC aggregate reports (RFC 7489 7.2, appendix C) from
 * the rows the workers record per evaluated message (dmarc.h
 * dmarc_report_store, the dmarc_reports table).
 *
 * Per policy domain with rows before the end of a period: its current
 * _dmarc record (rua= mailto: URIs, the !size limit honoured, other
 * schemes ignored), each rua destination outside the domain's
 * Organizational Domain verified (7.1: a TXT starting with v=DMARC1 at
 * <domain>._report._dmarc.<destination host>, else that URI is skipped),
 * the XML feedback document, gzip'd, in one mail to the remaining
 * destinations, queued from [authn] dmarc_report_email. The rows a
 * report covered are deleted once its mail is durably queued; a
 * temporary DNS failure leaves them for the next run, rows of a domain
 * with nowhere to send are left to the retention prune.
 *
 * The queue runner runs it after each period ([authn] dmarc_reports,
 * dmarc_report_interval), "moatctl dmarc report" on demand. Blocking:
 * its own loop and resolver, SQLite and the queue (a pool thread or
 * moatctl).
 *
 * SECURITY: records and TXT come from DNS, row values from messages:
 * everything put in the XML is escaped, addresses are checked (atext
 * local part, LDH domain) before they become recipients or headers. */
#ifndef MOAT_DMARC_REPORT_H
#define MOAT_DMARC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "dmarc.h"

#define DMARC_REPORT_XML_MAX	(64 * 1024 * 1024)	/* one document */
#define DMARC_REPORT_MAIL_MAX	(64 * 1024 * 1024)	/* one mail */
#define DMARC_REPORT_ADDR_MAX	254	/* one rua address */

/* One record of a report: the rows that agree in all of these. */
struct dmarc_report_group {
	const char	*source_ip;
	const char	*header_from;
	const char	*envelope_from;
	const char	*disposition;	/* "none", "quarantine", "reject" */
	bool		 dkim_aligned;	/* policy_evaluated dkim pass */
	bool		 spf_aligned;	/* policy_evaluated spf pass */
	const char	*dkim;		/* auth_results: dkim_status_name() */
	const char	*dkim_domain;	/* "": no signature */
	const char	*spf;		/* spf_result_name() */
	const char	*spf_domain;
	uint64_t	 count;
};

struct dmarc_report_meta {
	const char	*org_name;
	const char	*email;
	const char	*report_id;
	const char	*domain;	/* the policy domain */
	time_t		 begin, end;	/* date_range, both included */
	const struct dmarc_record *rec;	/* policy_published */
};

/* The feedback document into out. Returns 0, or -1 when out is full. */
int dmarc_report_xml(const struct dmarc_report_meta *m,
    const struct dmarc_report_group *g, size_t n, struct buf *out);

/* s XML-escaped (& < > " ' as entities, controls as '?') onto out, as
 * valid UTF-8: each octet that does not begin a well-formed character
 * (or one XML 1.0 excludes) becomes U+FFFD. */
int dmarc_report_xml_escape(struct buf *out, const char *s);

/* in as a gzip member (RFC 1952) into out: 0 or -1. */
int dmarc_report_gzip(const void *in, size_t len, struct buf *out);

/* A rua URI (6.2, "mailto:addr[!size[kmgt]]"): 0 with the address and
 * the size limit in octets (0: none; one past 2^64 is UINT64_MAX); 1
 * not mailto: (ignored); -1 a mailto: whose address moat will not use. */
int dmarc_report_mailto(const char *uri, char *addr, size_t addrlen,
    uint64_t *limit_r);

/* Whether one TXT record authorizes external reports (7.1 step 5: it
 * starts with the tag v=DMARC1). */
bool dmarc_report_authorizes(const char *txt, size_t len);

enum dmarc_report_mode {
	DMARC_REPORT_PRINT,	/* the XML to out, nothing sent or deleted */
	DMARC_REPORT_SEND,	/* queued, the rows deleted */
};

struct dmarc_report_stats {
	unsigned	 domains;	/* with rows */
	unsigned	 sent;		/* reports queued (or printed) */
	unsigned	 deferred;	/* DNS or queue failure: rows kept */
	unsigned	 skipped;	/* no record, no usable rua */
};

struct store;
/* Report the rows with time < end (of domain, NULL: every policy
 * domain). out (PRINT) gets the documents, and a line per domain on
 * what would be done goes to log (may be NULL). Returns 0, or -1 when
 * the store or the resolver failed as a whole. */
int dmarc_report_run(const struct config *cfg, struct store *st, time_t end,
    const char *domain, enum dmarc_report_mode mode, FILE *out,
    struct dmarc_report_stats *stats_r);

/* The end of the last whole period at now ([authn]
 * dmarc_report_interval, periods aligned to 00:00 UTC). */
time_t dmarc_report_period_end(const struct config *cfg, time_t now);

#endif
