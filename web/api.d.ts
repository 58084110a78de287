// Names for the API's schemas, as the page's JSDoc uses them: `@typedef {import("mobilabel-api").Job} Job`.
// openapi.d.ts beside this file is generated from /openapi.json (`npm run api-types`); never edit it.
import type { components } from "./openapi";

type Schemas = components["schemas"];

export type Meta = Schemas["MetaOut"];
export type Job = Schemas["JobOut"];
export type LabelCount = Schemas["LabelCount"];
export type Result = Schemas["ResultOut"];
export type ResultPage = Schemas["ResultPage"];
export type Ranked = Schemas["Ranked"];
export type Correction = Schemas["CorrectionOut"];
export type Version = Schemas["VersionOut"];
export type Comparison = Schemas["Comparison"];
export type Confusion = Schemas["Confusion"];
export type Refresh = Schemas["RefreshOut"];
export type Calibration = Schemas["CalibrationOut"];
export type ReliabilityBin = Schemas["BinOut"];
export type AcceptReport = Schemas["AcceptOut"];
export type Run = Schemas["RunOut"];
export type RunProgress = Schemas["RunProgress"];
export type RunRequest = Schemas["RunRequest"];
export type Class = Schemas["ClassOut"];
export type QueueBatch = Schemas["BatchOut"];
export type QueueItem = Schemas["QueueItemOut"];
export type Estimate = Schemas["EstimateOut"];
export type Mistakes = Schemas["MistakesOut"];
export type Mistake = Schemas["MistakeOut"];
export type Member = Schemas["MemberOut"];
export type Groups = Schemas["GroupsOut"];
export type Neighbours = Schemas["NeighboursOut"];
export type GroupAnswer = Schemas["GroupAnswerOut"];
export type ValidationError = Schemas["ValidationError"];
