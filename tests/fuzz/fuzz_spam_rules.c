/* fuzz_spam_rules: the spam rules on arbitrary messages (header dates,
 * display names, links in text and HTML): at most SPAM_RULES_HITS_MAX
 * hits, each rule once, a finite sum, the same result twice, and a
 * formatted hit list that fits. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spam_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spam_facts f;
	struct spam_rules_result a, b;
	char out[SPAM_RULES_FORMAT_MAX];
	size_t i, k;

	spam_facts_init(&f);
	f.now = 1764000000;
	spam_rules_eval(&f, data, size, &a);
	spam_rules_eval(&f, data, size, &b);
	if (a.nhits > SPAM_RULES_HITS_MAX || a.nhits != b.nhits ||
	    !isfinite(a.sum) || a.sum != b.sum)
		abort();
	for (i = 0; i < a.nhits; i++)
		for (k = i + 1; k < a.nhits; k++)
			if (strcmp(a.hits[i].name, a.hits[k].name) == 0)
				abort();
	spam_rules_format(&a, out, sizeof(out));
	if (strlen(out) >= sizeof(out))
		abort();
	if (!isfinite(spam_rules_combine(0.5, a.sum)))
		abort();
	return 0;
}
