using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace ActionKit.Data.Cvat;

/// <summary>The contents of one video's annotations.xml: task id and name, the clip's label, the frame size and
/// the frame file names in order (every frame is tagged with the clip's label), and the actors' boxes where the
/// source knows them (CVAT image boxes labelled with the clip's label).</summary>
public sealed record CvatAnnotation(int TaskId, string TaskName, string Label, int Width, int Height,
    IReadOnlyList<string> FrameNames)
{
    public IReadOnlyList<FrameBox> Boxes { get; init; } = [];
}

/// <summary>Writes and reads a CVAT 1.1 annotations.xml for one video, in the element structure and order the
/// reference converter writes (reference/otx-action.md, "CVAT layout").</summary>
public static class CvatAnnotations
{
    public const string FileName = "annotations.xml";
    public const string ImagesFolder = "images";

    /// <summary>CVAT frame file name for a 0-based frame index: 00001.jpg for index 0.</summary>
    public static string FrameFileName(int frameIndex) => $"{frameIndex + 1:D5}.jpg";

    public static void Write(string path, CvatAnnotation annotation)
    {
        var settings = new XmlWriterSettings { Indent = true, Encoding = new UTF8Encoding(false), NewLineChars = "\n" };
        using XmlWriter xml = XmlWriter.Create(path, settings);
        xml.WriteStartDocument();
        xml.WriteStartElement("annotations");
        xml.WriteElementString("version", "1.1");
        xml.WriteStartElement("meta");
        WriteTask(xml, annotation);
        xml.WriteEndElement();
        ILookup<int, BoundingBox> boxes = annotation.Boxes.ToLookup(b => b.Frame, b => b.Box);
        for (int i = 0; i < annotation.FrameNames.Count; i++)
        {
            xml.WriteStartElement("image");
            xml.WriteAttributeString("id", Invariant(i));
            xml.WriteAttributeString("name", annotation.FrameNames[i]);
            xml.WriteAttributeString("width", Invariant(annotation.Width));
            xml.WriteAttributeString("height", Invariant(annotation.Height));
            xml.WriteStartElement("tag");
            xml.WriteAttributeString("label", annotation.Label);
            xml.WriteAttributeString("source", "manual");
            xml.WriteEndElement();
            foreach (BoundingBox box in boxes[i])
            {
                WriteBox(xml, annotation.Label, box);
            }
            xml.WriteEndElement();
        }
        xml.WriteEndElement();
        xml.WriteEndDocument();
    }

    // CVAT 1.1's image box; source "auto": the boxes come from the data's generator, not a person.
    private static void WriteBox(XmlWriter xml, string label, BoundingBox box)
    {
        xml.WriteStartElement("box");
        xml.WriteAttributeString("label", label);
        xml.WriteAttributeString("source", "auto");
        xml.WriteAttributeString("occluded", "0");
        xml.WriteAttributeString("xtl", Invariant(box.Left));
        xml.WriteAttributeString("ytl", Invariant(box.Top));
        xml.WriteAttributeString("xbr", Invariant(box.Right));
        xml.WriteAttributeString("ybr", Invariant(box.Bottom));
        xml.WriteAttributeString("z_order", "0");
        xml.WriteEndElement();
    }

    private static void WriteTask(XmlWriter xml, CvatAnnotation annotation)
    {
        int size = annotation.FrameNames.Count;
        xml.WriteStartElement("task");
        xml.WriteElementString("id", Invariant(annotation.TaskId));
        xml.WriteElementString("name", annotation.TaskName);
        xml.WriteElementString("size", Invariant(size));
        xml.WriteElementString("mode", "interpolation");
        xml.WriteElementString("overlap", "2");
        foreach (string empty in (ReadOnlySpan<string>)["bugtracker", "created", "updated"])
        {
            xml.WriteElementString(empty, null);
        }
        xml.WriteElementString("start_frame", "0");
        xml.WriteElementString("stop_frame", Invariant(size - 1));
        xml.WriteElementString("frame_filter", "1");
        xml.WriteElementString("z_order", "True");
        xml.WriteStartElement("labels");
        xml.WriteStartElement("label");
        xml.WriteElementString("name", annotation.Label);
        xml.WriteElementString("attributes", null);
        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteElementString("segments", null);
        xml.WriteStartElement("original_size");
        xml.WriteElementString("width", Invariant(annotation.Width));
        xml.WriteElementString("height", Invariant(annotation.Height));
        xml.WriteEndElement();
        xml.WriteEndElement();
    }

    /// <summary>Reads and validates an annotations.xml (not the frame files: see <see cref="CvatDataset"/>).</summary>
    public static CvatAnnotation Read(string path)
    {
        XElement root = Load(path);
        var reader = new ElementReader(path);
        if (root.Name != "annotations")
        {
            throw reader.Error(root, $"root element is <{root.Name}>, expected <annotations>");
        }
        XElement task = reader.Child(reader.Child(root, "meta"), "task");
        int taskId = reader.Integer(reader.Child(task, "id"));
        string taskName = reader.Child(task, "name").Value;
        XElement originalSize = reader.Child(task, "original_size");
        int width = reader.Integer(reader.Child(originalSize, "width"));
        int height = reader.Integer(reader.Child(originalSize, "height"));
        if (width == 0 || height == 0)
        {
            throw reader.Error(originalSize, $"frame size {width}x{height} is empty");
        }
        List<XElement> images = [.. root.Elements("image")];
        if (images.Count == 0)
        {
            throw reader.Error(root, "no <image> elements; expected one per frame");
        }
        int size = reader.Integer(reader.Child(task, "size"));
        if (size != images.Count)
        {
            throw reader.Error(task, $"<size> is {size} but there are {images.Count} <image> elements");
        }
        var frameNames = new string[images.Count];
        var boxes = new List<FrameBox>();
        string? label = null;
        for (int i = 0; i < images.Count; i++)
        {
            frameNames[i] = ReadImage(reader, images[i], i, width, height, out string frameLabel);
            label ??= frameLabel;
            boxes.AddRange(images[i].Elements("box").Select(box => new FrameBox(i, ReadBox(reader, box))));
        }
        return new CvatAnnotation(taskId, taskName, label!, width, height, frameNames)
        {
            Boxes = boxes.Count == 0 ? Array.Empty<FrameBox>() : boxes, // the default's instance, so box-less annotations compare equal
        };
    }

    private static string ReadImage(ElementReader reader, XElement image, int index, int width, int height,
        out string label)
    {
        if (reader.IntegerAttribute(image, "id") != index)
        {
            throw reader.Error(image, $"image id is not {index}; expected ids 0, 1, 2, ... in order");
        }
        if (reader.IntegerAttribute(image, "width") != width || reader.IntegerAttribute(image, "height") != height)
        {
            throw reader.Error(image, $"image size differs from <original_size> {width}x{height}");
        }
        string name = reader.Attribute(image, "name");
        if (name.Length == 0 || name != Path.GetFileName(name))
        {
            throw reader.Error(image, $"image name '{name}' is not a plain file name");
        }
        XElement tag = image.Element("tag") ?? throw reader.Error(image, $"image '{name}' has no <tag>");
        label = reader.Attribute(tag, "label");
        return name;
    }

    private static BoundingBox ReadBox(ElementReader reader, XElement box)
    {
        var corners = new BoundingBox(reader.Real(box, "xtl"), reader.Real(box, "ytl"), reader.Real(box, "xbr"), reader.Real(box, "ybr"));
        return corners.IsEmpty ? throw reader.Error(box, "box is empty (xbr <= xtl or ybr <= ytl)") : corners;
    }

    private static XElement Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new DatasetFormatException(path, "annotations file not found");
        }
        try
        {
            return XDocument.Load(path, LoadOptions.SetLineInfo).Root!;
        }
        catch (XmlException error)
        {
            throw new DatasetFormatException(path, error.LineNumber, $"not well-formed XML: {error.Message}", error);
        }
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Invariant(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    // Finds required elements and attributes, failing with the file and the line of the element concerned.
    private sealed class ElementReader(string path)
    {
        public XElement Child(XElement parent, string name) =>
            parent.Element(name) ?? throw Error(parent, $"<{parent.Name}> has no <{name}>");

        public string Attribute(XElement element, string name) =>
            element.Attribute(name)?.Value ?? throw Error(element, $"<{element.Name}> has no '{name}' attribute");

        public int Integer(XElement element) => Parse(element, $"<{element.Name}>", element.Value);

        public int IntegerAttribute(XElement element, string name) =>
            Parse(element, $"'{name}' of <{element.Name}>", Attribute(element, name));

        public double Real(XElement element, string name)
        {
            string text = Attribute(element, name);
            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value)
                ? value
                : throw Error(element, $"'{name}' of <{element.Name}> is '{text}', expected a number");
        }

        public DatasetFormatException Error(XElement element, string problem) =>
            new(path, ((IXmlLineInfo)element).HasLineInfo() ? ((IXmlLineInfo)element).LineNumber : null, problem);

        private int Parse(XElement element, string what, string text) =>
            int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value)
                ? value
                : throw Error(element, $"{what} is '{text}', expected a non-negative integer");
    }
}
