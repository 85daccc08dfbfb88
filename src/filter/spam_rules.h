/* spam_rules: the rule half of the spam score. The Bayesian filter
 * (bayes.h) learns what words mean; some evidence is not in the words:
 * what the SMTP session found out about the sender (DNSBL listings, SPF,
 * DKIM and DMARC results, a client without reverse DNS), anomalies of the
 * header (no Date or Message-ID, a date far off, a display name that is
 * someone else's address) and tricks in links (an IP address for a
 * host, a link text naming another host than the link, user@host
 * disguises, shorteners, punycode). Each rule that matches adds its
 * weight in log-odds; the sum moves the Bayesian probability:
 *
 *	combined = 1 / (1 + exp(-(logit(p) + sum)))
 *
 * so a rule is worth the same evidence whatever the filter thought, an
 * untrained filter (p = 0.5) is decided by the rules alone, and no rule
 * can push a very sure verdict across the line by itself. The message
 * is network input: every scan is bounded by the limits below. */
#ifndef MOAT_SPAM_RULES_H
#define MOAT_SPAM_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SPAM_RULES_HITS_MAX	24		/* rules that can match */
#define SPAM_RULES_TEXT_MAX	(512 * 1024)	/* decoded text per part */
#define SPAM_RULES_PARTS_MAX	50		/* text parts looked at */
#define SPAM_RULES_URLS_MAX	500		/* links looked at */
#define SPAM_RULES_HOST_MAX	255
#define SPAM_RULES_FORMAT_MAX	512		/* spam_rules_format() */

/* What the session knows; -1 in an int: not checked. The values are
 * the enums of spf.h, dkim.h and dmarc.h. */
struct spam_facts {
	int	 dnsbl_score;	/* summed weights of listing zones */
	int	 spf;		/* enum spf_result */
	int	 dkim;		/* enum dkim_status of the best signature */
	int	 dmarc;		/* enum dmarc_status */
	bool	 rdns_missing;	/* the client has no PTR name */
	time_t	 now;
};

struct spam_rule_hit {
	const char	*name;		/* "SPF_FAIL", static */
	double		 weight;	/* log-odds */
};

struct spam_rules_result {
	double			sum;
	struct spam_rule_hit	hits[SPAM_RULES_HITS_MAX];
	size_t			nhits;
};

/* A fact set with nothing known. */
void spam_facts_init(struct spam_facts *f);
/* Evaluate every rule on f and the message (len octets, headers and
 * body). Never fails; the input may be anything. */
void spam_rules_eval(const struct spam_facts *f, const uint8_t *msg,
    size_t len, struct spam_rules_result *r);
/* The combined probability of a Bayesian p and a rule sum. */
double spam_rules_combine(double p, double sum);
/* "SPF_FAIL=1.2,NO_RDNS=0.8" (or "none") into out. */
void spam_rules_format(const struct spam_rules_result *r, char *out,
    size_t outlen);

#endif
