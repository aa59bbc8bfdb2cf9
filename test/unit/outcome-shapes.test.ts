/**
 * The outcome detail shapes (domain/outcome-shapes.ts) describe every outcome detail-type: the
 * compiler checks the fields against the interfaces of contract.ts; this checks the catalog.
 */
import { describe, expect, it } from 'vitest';
import { DetailTypes } from '../../lambdas/domain/contract';
import { OUTCOME_SHAPES } from '../../lambdas/domain/outcome-shapes';

describe('OUTCOME_SHAPES', () => {
  it('describes every outcome detail-type (every detail-type but the PublishImage command)', () => {
    const outcomes = Object.values(DetailTypes).filter((t) => t !== DetailTypes.PublishImage);
    expect(Object.keys(OUTCOME_SHAPES).sort()).toEqual([...outcomes].sort());
  });

  it('gives every outcome and every field a one-line description', () => {
    for (const [type, shape] of Object.entries(OUTCOME_SHAPES)) {
      expect(shape.description, type).toMatch(/^\S.*\S$/);
      expect(shape.description, type).not.toContain('\n');
      for (const [name, field] of Object.entries(shape.fields)) {
        expect(field.description, `${type}.${name}`).toMatch(/^\S.*\S$/);
      }
    }
  });

  it('declares FleetResumed with pauseReason (what `phoenix resume` emits)', () => {
    expect(OUTCOME_SHAPES.FleetResumed.fields).toHaveProperty('pauseReason');
  });
});
