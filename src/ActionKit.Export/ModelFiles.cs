namespace ActionKit.Export;

/// <summary>Writes model files whole or not at all, so a killed export never leaves a truncated model behind.</summary>
static class ModelFiles
{
    /// <summary>Writes <paramref name="bytes"/> to a temporary file beside <paramref name="path"/>, then renames it into place.</summary>
    public static void Write(string path, byte[] bytes)
    {
        string temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.WriteAllBytes(temporary, bytes);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
