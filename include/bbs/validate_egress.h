/*
 * validate_egress.h - one egress (security group) rule (pure core,
 * reference 2.8).
 *
 * A DesiredLRP reports "Invalid field: egress_rules" and then the rule's
 * problems; a TaskDefinition reports only the header. Both use this with
 * a NULL `p` to learn whether there is anything to report.
 */
#ifndef BBS_VALIDATE_EGRESS_H
#define BBS_VALIDATE_EGRESS_H

#include "bbs/validate_problems.h"
#include "security_group.pb-c.h"

/*
 * Upstream's SecurityGroupRule.Validate(): protocol, ports / port_range,
 * icmp_info, then every destination (IP, CIDR or IP range, comma lists
 * included) as one "Invalid field: destinations [ ... ]" problem. `r` is
 * borrowed; `p` may be NULL (count only). Returns the number of problems.
 */
int bbs_validate_egress_rule(const Models__SecurityGroupRule *r, struct bbs_problems *p);

#endif /* BBS_VALIDATE_EGRESS_H */
