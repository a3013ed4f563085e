export { asConversation, CHATML_TEMPLATE, type ChatTemplateOptions, chatTemplate } from "./chat.js";
export {
  alpacaTemplate,
  type FormatTemplateOptions,
  formatTemplate,
  plainTemplate,
  questionAnswerTemplate,
} from "./instruction.js";
export type { Segment, Template } from "./segments.js";
