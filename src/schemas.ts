import { Type, type Static } from 'typebox'

/** Every error the API answers: a status, its name, and a message fit to show a person. */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String()
}, { $id: 'ErrorResponse' })

export type ErrorResponse = Static<typeof ErrorResponse>

/** `YYYY-MM-DD` or `today`; the calendar check (2026-02-30) is done by the route. */
export const DayParameter = Type.String({ pattern: '^(today|\\d{4}-\\d{2}-\\d{2})$', maxLength: 10 })

export const DayStats = Type.Object({
  page: Type.String(),
  day: Type.String({ format: 'date' }),
  views: Type.Integer({ minimum: 0 }),
  uniques: Type.Integer({ minimum: 0 }),
  bots: Type.Integer({ minimum: 0 })
})

export type DayStats = Static<typeof DayStats>

export const errorResponses = {
  400: Type.Ref('ErrorResponse'),
  503: Type.Ref('ErrorResponse')
}
