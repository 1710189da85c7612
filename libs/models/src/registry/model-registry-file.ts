import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelRegistry, ModelRegistryError } from './model-registry';

/** libs/models/models.registry.json; the same relative path from src/registry and dist/registry. */
export const DEFAULT_MODEL_REGISTRY_PATH = join(__dirname, '..', '..', 'models.registry.json');

/** Reads and validates a registry file (JSON); fails naming the file, entry and field. */
export function loadModelRegistry(path: string = DEFAULT_MODEL_REGISTRY_PATH): ModelRegistry {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ModelRegistryError(
      'invalid_registry',
      `cannot read model registry ${path}: ${(error as Error).message}`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new ModelRegistryError(
      'invalid_registry',
      `model registry ${path} is not valid JSON: ${(error as Error).message}`,
    );
  }
  return ModelRegistry.fromConfig(document, path);
}
