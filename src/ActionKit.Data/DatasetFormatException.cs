namespace ActionKit.Data;

/// <summary>Bad dataset input: names the file and, where there is one, the 1-based line.
/// The message reads <c>path:line: what is wrong</c> or <c>path: what is wrong</c>.</summary>
public sealed class DatasetFormatException : Exception
{
    public DatasetFormatException(string filePath, int? line, string problem, Exception? inner = null)
        : base(Format(filePath, line, problem), inner)
    {
        FilePath = filePath;
        Line = line;
    }

    public DatasetFormatException(string filePath, string problem, Exception? inner = null)
        : this(filePath, null, problem, inner)
    {
    }

    public string FilePath { get; }

    public int? Line { get; }

    private static string Format(string filePath, int? line, string problem) =>
        line is int number ? $"{filePath}:{number}: {problem}" : $"{filePath}: {problem}";
}
