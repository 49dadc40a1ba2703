/**
 * The requests the collections send, in order, as one walk through the sandbox that works when run
 * top to bottom (and again: the registration it makes is removed at the end of its folder).
 *
 * Keyed by the OpenAPI operation id. `path`, `query` and `body` replace what the converters made up
 * from the schemas; `status` is what the request must answer; `capture` stores a field of the answer
 * in a collection variable that later requests use (`{{authorizationId}}`). Operations missing here
 * are still generated, after these, with a check that they answer without a server error in the
 * contract's envelope (generate.mjs warns about them: add them here).
 */

const DIAGNOSIS = "J06.9";

export const SCENARIO = [
  { operationId: "issueToken", status: 200 },
  { operationId: "listMedications", query: { query: "acetaminofen 500", size: "5" }, status: 200 },
  { operationId: "getMedication", path: { product_code: "MED-042" }, status: 200 },
  { operationId: "listProducts", query: { product_type: "LAB", size: "5" }, status: 200 },
  { operationId: "lookupProducts", body: { product_codes: ["MED-042", "LAB-HEMO", "NOPE-1"] }, status: 200 },
  { operationId: "getProduct", path: { product_code: "LAB-HEMO" }, status: 200 },
  { operationId: "listProductChanges", query: { since_revision: "0", size: "5" }, status: 200 },
  { operationId: "registerProviderProduct", body: { product_code: "MED-042" }, status: 201 },
  { operationId: "listProviderProducts", query: { size: "50" }, status: 200 },
  {
    operationId: "registerProviderProductsBatch",
    body: { product_codes: ["LAB-HEMO", "CONS-GEN", "MED-SBX-0001"] },
    status: 200,
  },
  { operationId: "validateProviderProducts", body: { product_codes: ["MED-042", "LAB-HEMO"] }, status: 200 },
  { operationId: "listProviderProductHistory", path: { product_code: "MED-042" }, status: 200 },
  { operationId: "getProviderProduct", path: { product_code: "MED-042" }, status: 200 },
  { operationId: "deleteProviderProduct", path: { product_code: "MED-042" }, status: 204 },
  {
    operationId: "createAuthorizationRequest",
    body: {
      beneficiary_id: "BEN-0001",
      sponsor_slug: "sponsor-demo",
      diagnosis_code: DIAGNOSIS,
      products: [{ product_code: "LAB-HEMO", product_type: "LAB", quantity: 1, posology: "Once, fasting" }],
    },
    status: 201,
    capture: { authorizationId: "authorization_id" },
  },
  { operationId: "completeAuthorizationRequest", path: { authorization_id: "{{authorizationId}}" }, status: 200 },
  { operationId: "getAuthorizationRequest", path: { authorization_id: "{{authorizationId}}" }, status: 200 },
  {
    operationId: "createPrescription",
    body: {
      patient_id: "PAT-0001",
      diagnoses: [{ diagnosis_code: DIAGNOSIS }],
      medications: [{ product_code: "MED-SBX-0001", quantity: 20, posology: "1 tablet every 8 hours", duration_days: 5 }],
    },
    status: 201,
    capture: { prescriptionId: "prescription_id" },
  },
  { operationId: "getPrescription", path: { prescription_id: "{{prescriptionId}}" }, status: 200 },
  {
    operationId: "createOutpatientCareClaim",
    body: {
      beneficiary_id: "BEN-0001",
      sponsor_slug: "sponsor-demo",
      authorization_id: "{{authorizationId}}",
      diagnosis_code: DIAGNOSIS,
      line_items: [{ product_code: "LAB-HEMO", product_type: "LAB", quantity: 1 }],
    },
    status: 201,
    capture: { claimId: "claim_id" },
  },
  { operationId: "getOutpatientCareClaim", path: { claim_id: "{{claimId}}" }, status: 200 },
  { operationId: "liveness", status: 200, anonymous: true },
  { operationId: "readiness", status: 200, anonymous: true },
];

/** The variables of the environments: where the server is and which OAuth client to be. */
export const ENVIRONMENT = {
  name: "sandbox",
  baseUrl: "http://127.0.0.1:8000",
};
