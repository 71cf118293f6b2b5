/*
 * validate_lrp.h - DesiredLRP and DesiredLRPUpdate validation (pure core,
 * reference 5.1, 5.2).
 *
 * What this does not do: check that route values are valid JSON (that
 * runs after validation, see routejson.h).
 */
#ifndef BBS_VALIDATE_LRP_H
#define BBS_VALIDATE_LRP_H

#include "bbs/validate_problems.h"
#include "desired_lrp.pb-c.h"

/*
 * 5.1: the DesiredLRP's own rules (rows 1-12), then those of the run info
 * derived from it (rows 13-28), which repeat some. A missing desired_lrp
 * gives "Invalid field: desired_lrp".
 */
int bbs_validate_desire(const Models__DesireLRPRequest *req, struct bbs_problems *p);

/*
 * 5.2. A missing `update` passes upstream and then crashes its handler
 * (quirk 10); here it gives "Invalid field: update", but only when
 * process_guid is non-empty so that an empty body still answers exactly
 * "Invalid field: process_guid".
 */
int bbs_validate_update(const Models__UpdateDesiredLRPRequest *req, struct bbs_problems *p);

#endif /* BBS_VALIDATE_LRP_H */
