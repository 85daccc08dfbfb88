/* fname: see fname.h. */
#include "fname.h"

#include <string.h>

void
fname_keep(char *dst, size_t cap, const uint8_t *p, size_t n, bool cut)
{
	const size_t mark = sizeof(FNAME_CUT) - 1;
	const uint8_t *nul = memchr(p, '\0', n);

	/* a NUL ends the name, as for whoever saves the file */
	if (nul != NULL)
		n = (size_t)(nul - p);
	if (!cut && n < cap) {
		memcpy(dst, p, n);
		dst[n] = '\0';
		return;
	}
	/* UNSAFE: cap > mark + 1, so room >= 1 */
	if (n > cap - 1 - mark)
		p += n - (cap - 1 - mark), n = cap - 1 - mark;
	memcpy(dst, FNAME_CUT, mark);
	memcpy(dst + mark, p, n);
	dst[mark + n] = '\0';
}

void
fname_push(char *buf, size_t size, size_t *len, bool *cut,
    const uint8_t *p, size_t n)
{
	const size_t half = size / 2;

	if (n >= half) {
		*cut = *cut || *len > 0 || n > half;
		memcpy(buf, p + n - half, half);
		*len = half;
		return;
	}
	if (*len + n > size) {
		/* UNSAFE: *len > size - n > half */
		memmove(buf, buf + *len - half, half);
		*len = half;
		*cut = true;
	}
	memcpy(buf + *len, p, n);
	*len += n;
}
