namespace ActionKit.Pipeline.Parameters;

/// <summary>A parameter that cannot be used: malformed or unknown in a params file (with its line), or out of range.</summary>
public sealed class ParamsException(string origin, int? line, string problem)
    : Exception(line is null ? $"{origin}: {problem}" : $"{origin}:{line}: {problem}")
{
    /// <summary>The params file, or the command-line option, that set the value.</summary>
    public string Origin { get; } = origin;

    /// <summary>1-based line in <see cref="Origin"/>, when it is a file.</summary>
    public int? Line { get; } = line;
}
