namespace ActionKit.Data.Hmdb51;

/// <summary>label_map.txt: one class name a line; the line index is the class id.</summary>
public static class Hmdb51LabelMap
{
    /// <summary>Reads and validates the class names; trailing blank lines are ignored.</summary>
    public static IReadOnlyList<string> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new DatasetFormatException(path, "label map not found; expected one class name a line");
        }
        List<string> lines = [.. File.ReadAllLines(path).Select(line => line.Trim())];
        while (lines.Count > 0 && lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }
        if (lines.Count == 0)
        {
            throw new DatasetFormatException(path, "label map is empty; expected one class name a line");
        }
        var firstLineOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < lines.Count; i++)
        {
            string name = lines[i];
            if (name.Length == 0 || name.Any(char.IsWhiteSpace))
            {
                throw new DatasetFormatException(path, i + 1,
                    $"class name '{name}' is empty or contains whitespace; expected one name without spaces a line");
            }
            if (!firstLineOf.TryAdd(name, i + 1))
            {
                throw new DatasetFormatException(path, i + 1,
                    $"duplicate class name '{name}' (first on line {firstLineOf[name]})");
            }
        }
        return lines;
    }

    public static void Write(string path, IEnumerable<string> classNames) =>
        File.WriteAllText(path, string.Concat(classNames.Select(name => name + "\n")));
}
