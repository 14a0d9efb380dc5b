namespace ActionKit.Pipeline.Templates;

/// <summary>A template that cannot be used: not found, malformed (with file and line), or with an invalid value (with its key).</summary>
public sealed class TemplateException(string template, string problem, int? line = null)
    : Exception(line is null ? $"Template {template}: {problem}" : $"Template {template}:{line}: {problem}")
{
    /// <summary>The template's id, name or source file.</summary>
    public string Template { get; } = template;

    /// <summary>1-based line in the template's file, when the problem is in its text.</summary>
    public int? Line { get; } = line;
}
