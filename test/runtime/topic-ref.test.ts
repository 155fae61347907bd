import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { topicDefinitionOf } from '../../runtime/topic-ref.ts';
import { TOPICS, type TopicDefinition } from '../../schemas/topics.ts';

describe('topicDefinitionOf', () => {
  it("resolves one of meshpipe's topics by id, and returns a component's own definition as it is", () => {
    assert.equal(topicDefinitionOf('spans'), TOPICS.spans);
    const own: TopicDefinition = { ...TOPICS.spans, suffix: 'slow-spans.v1' };
    assert.equal(topicDefinitionOf(own), own);
  });
});
