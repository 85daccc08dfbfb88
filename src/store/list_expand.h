/* list_expand: (not written yet). */
#ifndef MOAT_LIST_EXPAND_H
#define MOAT_LIST_EXPAND_H
#endif
