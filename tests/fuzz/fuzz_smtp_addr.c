/* fuzz_smtp_addr: libFuzzer target for smtp_addr.c. The first input octet
 * picks the flags; the rest is parsed as a path and as a HELO domain. A
 * successful parse must satisfy the invariants the callers rely on. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_addr.h"

#define FUZZ_FLAGS_MASK \
	(SMTP_ADDR_ALLOW_EMPTY | SMTP_ADDR_UTF8 | SMTP_ADDR_POSTMASTER)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_addr(const struct smtp_addr *a, unsigned flags, size_t consumed,
    size_t len)
{
	char out[SMTP_LOCAL_MAX + SMTP_DOMAIN_MAX + 2];
	size_t i;

	if (consumed < 2 || consumed > len || consumed > SMTP_PATH_MAX)
		abort();
	if (strlen(a->local) > SMTP_LOCAL_MAX ||
	    strlen(a->domain) > SMTP_DOMAIN_MAX)
		abort();
	if (a->null && (flags & SMTP_ADDR_ALLOW_EMPTY) == 0)
		abort();
	if (a->utf8 && (flags & SMTP_ADDR_UTF8) == 0)
		abort();
	for (i = 0; a->domain[i] != '\0'; i++)
		if (a->domain[i] >= 'A' && a->domain[i] <= 'Z')
			abort();
	if (smtp_addr_format(a, out, sizeof(out)) != 0)
		abort();
	/* the domain part re-validates as a domain */
	if (!a->null && a->domain[0] != '\0' &&
	    !smtp_addr_valid_domain(a->domain, strlen(a->domain), a->utf8))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_addr a;
	size_t consumed = 0;
	const char *error = NULL;
	unsigned flags;
	char *s;

	if (size == 0)
		return 0;
	flags = data[0] & FUZZ_FLAGS_MASK;
	size--;
	/* an exactly sized copy so that ASan sees any read past size */
	s = malloc(size > 0 ? size : 1);
	if (s == NULL)
		return 0;
	if (size > 0)
		memcpy(s, data + 1, size);

	if (smtp_addr_parse_path(s, size, flags, &a, &consumed, &error) == 0)
		check_addr(&a, flags, consumed, size);
	else if (error == NULL || strlen(error) < 6)
		abort();
	(void)smtp_addr_valid_domain(s, size, (flags & SMTP_ADDR_UTF8) != 0);
	free(s);
	return 0;
}
