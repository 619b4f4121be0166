/**
 * The JSON body parser of Keygate's API routes, mounted on each route line after its rate limit,
 * so that a flood of unreadable bodies is limited like any other (ratelimit/limits.ts); on sign-in's
 * options it comes first, since whether the body names someone decides when the point is taken,
 * and an unreadable one is refused with no point and nothing written for it (limits.ts). Bodies over
 * KEYGATE_BODY_LIMIT are refused; one declared that large never gets this far (body-limit.ts).
 */
import express from 'express';
import { KEYGATE_BODY_LIMIT } from './body-limit.js';

export const jsonBody = express.json({ limit: KEYGATE_BODY_LIMIT, strict: true });
