import { describeUnstorableText, findUnstorableText } from '@llmbus/contracts';
import { ArgumentMetadata, BadRequestException, Injectable, ValidationPipe } from '@nestjs/common';

/**
 * A ValidationPipe that first refuses a body holding text no store can keep (U+0000 or a lone
 * UTF-16 surrogate in any string or object key; see contracts' text rules) with 400
 * `invalid_request`, one `<JSON path>: <problem>` line per finding in `details`. Bodies that pass
 * go through the ValidationPipe as configured.
 */
@Injectable()
export class StorableTextValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body') {
      const details = describeUnstorableText(findUnstorableText(value));
      if (details.length > 0) {
        throw new BadRequestException({
          statusCode: 400,
          error: 'invalid_request',
          message: `the request body holds text that cannot be stored: ${details.join('; ')}`,
          details,
        });
      }
    }
    return super.transform(value, metadata);
  }
}
