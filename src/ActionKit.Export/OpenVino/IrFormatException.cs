namespace ActionKit.Export.OpenVino;

/// <summary>A bad OpenVINO IR file pair: the message reads <c>path: what is wrong</c> and names the layer (id and name)
/// or the edge where there is one. (InvalidDataException is sealed, so this derives from Exception.)</summary>
public sealed class IrFormatException(string filePath, string problem, Exception? inner = null)
    : Exception($"{filePath}: {problem}", inner)
{
    public string FilePath { get; } = filePath;
}
