import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetToCsv } from '../../datasets/csv.js';
import { datasetToFhirBundle } from '../../datasets/fhir.js';
import { datasetToNightscout } from '../../datasets/nightscout.js';
import { request, TOKEN, testServer } from '../server/helpers.js';
import { syntheticDataset } from './helpers.js';

let server: Awaited<ReturnType<typeof testServer>>;
let base: string;
const d = syntheticDataset(6, 1);

beforeAll(async () => {
  server = await testServer();
  base = server.url;
});
afterAll(async () => {
  await server.cleanup();
});

describe('POST /api/datasets, GET /api/datasets[/:id]', () => {
  it('refuses an import without the token (401) and stores nothing', async () => {
    const r = await request(base, 'POST', '/api/datasets', { content: datasetToCsv(d), patientId: 'p6' });
    expect(r.status).toBe(401);
    expect(r.json.error.code).toBe('UNAUTHORIZED');
    expect((await request(base, 'GET', '/api/datasets')).json).toEqual([]);
  });

  it('400 naming the field: a bad body (zod), and bad data (row and field)', async () => {
    const noContent = await request(base, 'POST', '/api/datasets', { patientId: 'p6' }, TOKEN);
    expect(noContent.status).toBe(400);
    expect(noContent.json.error.message).toContain('body.content');
    const badWeight = await request(base, 'POST', '/api/datasets', { content: 'x', bodyWeightKg: 'heavy' }, TOKEN);
    expect(badWeight.status).toBe(400);
    expect(badWeight.json.error.message).toContain('body.bodyWeightKg');
    const badRow = await request(
      base,
      'POST',
      '/api/datasets',
      {
        content: 'time,cgm_mg_dl,basal_u_per_h,bolus_u,carbs_g\n2024-03-01T08:00:00Z,100,1,,\n2024-03-01T08:05:00Z,100,1,,abc\n',
        format: 'csv',
        patientId: 'p6',
      },
      TOKEN,
    );
    expect(badRow.status).toBe(400);
    expect(badRow.json.error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { row: 3, field: 'carbs_g' } });
    expect(badRow.json.error.message).toBe('line 3, carbs_g: "abc" is not a number');
    const badFhir = await request(
      base,
      'POST',
      '/api/datasets',
      {
        content: {
          resourceType: 'Bundle',
          entry: [
            {
              resource: {
                resourceType: 'Observation',
                code: { coding: [{ system: 'http://loinc.org', code: '99504-3' }] },
                effectiveDateTime: '2024-03-01T08:00:00Z',
                valueQuantity: { value: 900 },
              },
            },
          ],
        },
      },
      TOKEN,
    );
    expect(badFhir.status).toBe(400);
    expect(badFhir.json.error.details).toEqual({ resource: 'Bundle.entry[0]', field: 'valueQuantity.value' });
    expect((await request(base, 'GET', '/api/datasets')).json).toEqual([]);
  });

  it('imports CSV text, a FHIR Bundle value and Nightscout arrays; lists them; gets one; 404 for an unknown id', async () => {
    const csv = await request(base, 'POST', '/api/datasets', { content: datasetToCsv(d), patientId: 'p6', fileName: 'p6.csv' }, TOKEN);
    expect(csv.status).toBe(201);
    expect(csv.json).toMatchObject({ patientId: 'p6', created: true, summary: { slots: 288 }, provenance: { format: 'csv', fileName: 'p6.csv' } });
    const again = await request(base, 'POST', '/api/datasets', { content: datasetToCsv(d), patientId: 'p6' }, TOKEN);
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ id: csv.json.id, created: false });
    const fhir = await request(base, 'POST', '/api/datasets', { content: datasetToFhirBundle(d) }, TOKEN);
    expect(fhir.status).toBe(201);
    expect(fhir.json).toMatchObject({ patientId: 'patient-007', summary: { bodyWeightKg: 72.5 }, provenance: { format: 'fhir' } });
    const { entries, treatments } = datasetToNightscout(d);
    const ns = await request(base, 'POST', '/api/datasets', { content: entries, treatments, basalUPerH: 0.8, patientId: 'p6-ns', deidentify: true }, TOKEN);
    expect(ns.status).toBe(201);
    expect(ns.json.patientId).toMatch(/^anon-/);
    expect(ns.json.provenance).toMatchObject({ format: 'nightscout', deidentified: true });
    const list = await request(base, 'GET', '/api/datasets');
    expect(list.json.map((x: { id: string }) => x.id).sort()).toEqual([csv.json.id, fhir.json.id, ns.json.id].sort());
    const one = await request(base, 'GET', `/api/datasets/${csv.json.id}`);
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ id: csv.json.id, patientId: 'p6', summary: csv.json.summary });
    const unknown = await request(base, 'GET', '/api/datasets/ds-0000');
    expect(unknown.status).toBe(404);
  });
});
